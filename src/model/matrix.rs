//! The activation matrix every BERT module passes on: row-major `f32`, one row per token.
//!
//! Row-major (tokens × features) keeps each token's feature vector contiguous, which is what
//! LayerNorm, GELU and the per-token rows of a linear layer want, and lets one attention head
//! be read as a strided view of the query/key/value matrices without copying.

/// A dense row-major `rows × cols` matrix of `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps row-major data; `data.len()` must be `rows * cols`.
    ///
    /// # Panics
    /// When the length does not match: that is a programming error, not bad input.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "Matrix::from_vec: {rows}×{cols} needs {} values, got {}",
            rows * cols,
            data.len()
        );
        Self { rows, cols, data }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row `r` as a slice of `cols` values.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        let cols = self.cols;
        &mut self.data[r * cols..(r + 1) * cols]
    }

    /// A new matrix holding the listed rows, in the order given.
    pub fn select_rows(&self, rows: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            data.extend_from_slice(self.row(r));
        }
        Matrix::from_vec(rows.len(), self.cols, data)
    }

    /// Element-wise `self += other` (the residual connections of BERT).
    pub fn add_assign(&mut self, other: &Matrix) {
        assert_eq!((self.rows, self.cols), (other.rows, other.cols));
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }
}

/// `y = x·Wᵀ + b` for a row-major `x` (m × k) and a weight `W` stored as loaded from a
/// Hugging Face checkpoint, row-major (n × k) = [out_features, in_features].
///
/// The product runs through [`gemm_strided`] (single-threaded, fixed blocking), so every
/// output element is summed in the same order whatever else runs in parallel: results do not
/// depend on the number of rayon threads.
pub fn matmul_transposed(x: &Matrix, weight: &Matrix, bias: Option<&[f32]>) -> Matrix {
    let (m, k, n) = (x.rows(), x.cols(), weight.rows());
    assert_eq!(
        weight.cols(),
        k,
        "matmul_transposed: x has {k} columns, weight expects {}",
        weight.cols()
    );
    let mut y = Matrix::zeros(m, n);
    let beta = match bias {
        Some(b) => {
            assert_eq!(b.len(), n, "bias length {} for {n} outputs", b.len());
            for r in 0..m {
                y.row_mut(r).copy_from_slice(b);
            }
            1.0
        }
        None => 0.0,
    };
    gemm_strided(
        m,
        k,
        n,
        StridedRef::row_major(x.as_slice(), k),
        // Wᵀ[k][n] = W[n][k]: moving along k is stride 1, along n is stride k.
        StridedRef {
            data: weight.as_slice(),
            row_stride: 1,
            col_stride: k,
        },
        beta,
        y.as_mut_slice(),
        n,
    );
    y
}

/// A read-only view of a matrix inside a slice, with arbitrary row and column strides
/// (used for one attention head inside the packed Q/K/V matrices).
#[derive(Clone, Copy)]
pub struct StridedRef<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> StridedRef<'a> {
    pub fn row_major(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Largest index touched by an `rows × cols` view, to bounds-check before the raw GEMM.
    fn last_index(&self, rows: usize, cols: usize) -> usize {
        (rows - 1) * self.row_stride + (cols - 1) * self.col_stride
    }
}

/// `c = a·b + beta·c` with `a` (m × k), `b` (k × n) strided views and `c` row-major with row
/// stride `c_row_stride`. The single place where crossbert calls the GEMM kernel (the
/// `gemm` crate: it measured 10–20 % faster than `matrixmultiply` and nalgebra on BERT's
/// shapes on this project's machines).
// The argument list mirrors BLAS `sgemm`: sizes, two views, beta, and the output.
#[allow(clippy::too_many_arguments)]
pub fn gemm_strided(
    m: usize,
    k: usize,
    n: usize,
    a: StridedRef<'_>,
    b: StridedRef<'_>,
    beta: f32,
    c: &mut [f32],
    c_row_stride: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for r in 0..m {
            for v in &mut c[r * c_row_stride..r * c_row_stride + n] {
                *v *= beta;
            }
        }
        return;
    }
    // The kernel takes raw pointers; these checks make every access it does in bounds.
    assert!(
        a.last_index(m, k) < a.data.len(),
        "gemm: A view out of bounds"
    );
    assert!(
        b.last_index(k, n) < b.data.len(),
        "gemm: B view out of bounds"
    );
    assert!(
        (m - 1) * c_row_stride + n <= c.len(),
        "gemm: C out of bounds"
    );
    // SAFETY: all three views were bounds-checked above; `c` is exclusively borrowed and
    // does not alias `a` or `b` (they are shared borrows).
    unsafe {
        // The `gemm` crate computes dst = alpha·dst + beta·(lhs·rhs), reading dst only when
        // asked; strides are given as (column, row).
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_row_stride as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            beta,
            1.0,
            false,
            false,
            false,
            // Parallelism comes from rayon over batches and sequences, one level up; a
            // sequential kernel also fixes the summation order.
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_transposed_matches_hand_computed_product() {
        // x = [[1,2],[3,4]], W = [[1,0],[1,1],[0,2]] (3 outputs), b = [0.5, 0, -1]
        let x = Matrix::from_vec(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        let w = Matrix::from_vec(3, 2, vec![1.0, 0.0, 1.0, 1.0, 0.0, 2.0]);
        let y = matmul_transposed(&x, &w, Some(&[0.5, 0.0, -1.0]));
        assert_eq!(y.as_slice(), &[1.5, 3.0, 3.0, 3.5, 7.0, 7.0]);
    }
}
