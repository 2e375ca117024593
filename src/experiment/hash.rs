//! The configuration hash written in every results row.
//!
//! `config_hash` is the 64-bit FNV-1a hash (offset basis 0xcbf29ce484222325, prime
//! 0x100000001b3), printed as 16 hex digits, of this text:
//!
//! ```text
//! <the resolved hardware table, serialized by the `toml` crate (keys sorted)>
//! [job]
//! limit = <limit, absent when the whole split runs>
//! model = "<model path as written in the spec>"
//! scope = "<scope target>"
//! scope_keys = [<scoped grid keys, empty when the target is `all`>]
//! seed = <seed>
//! split = "<split>"
//! task = "<task>"
//! ```
//!
//! FNV-1a is used because it is fully specified by those two constants, so the hash can be
//! recomputed by any tool; it identifies a configuration, it is not a security measure.
//! Two rows with the same hash ran the same hardware, model, data and chip instance.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The `config_hash` of one job, from its resolved hardware and the `[job]` table text.
pub fn config_hash(hardware: &toml::Table, job: &toml::Table) -> String {
    let mut text = toml::to_string(hardware).unwrap_or_default();
    let mut wrapper = toml::Table::new();
    wrapper.insert("job".into(), toml::Value::Table(job.clone()));
    text.push_str(&toml::to_string(&wrapper).unwrap_or_default());
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_test_vectors() {
        // Test vectors from the FNV reference (Fowler/Noll/Vo), 64-bit FNV-1a.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn hash_changes_with_any_input() {
        let hw: toml::Table = "[adc]\nbits = 8".parse().unwrap();
        let job: toml::Table = "seed = 1".parse().unwrap();
        let other_hw: toml::Table = "[adc]\nbits = 7".parse().unwrap();
        let other_job: toml::Table = "seed = 2".parse().unwrap();
        let h = config_hash(&hw, &job);
        assert_eq!(h.len(), 16);
        assert_eq!(h, config_hash(&hw, &job));
        assert_ne!(h, config_hash(&other_hw, &job));
        assert_ne!(h, config_hash(&hw, &other_job));
    }
}
