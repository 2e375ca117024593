//! The float matrix product of a tile's currents under multi-bit drives (and of its
//! noise variances), and of [`crate::level_bytes`]' integer sums where the CPU has no
//! VNNI: one single-threaded call into `matrixmultiply`.

/// c = aᵀ·b for a stored k×m row-major (the drive layout), b (k×n) and c (m×n) row-major,
/// single-threaded: callers parallelize over tiles so results never depend on the thread
/// count.
pub(crate) fn gemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the asserts above keep every strided access inside the three slices.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            1,
            m as isize,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
