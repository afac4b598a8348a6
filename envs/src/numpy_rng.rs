//! NumPy's default random generator, reproduced bit for bit: `np.random.default_rng(seed)`.
//!
//! That is `Generator(PCG64(SeedSequence(seed)))`: the seed's 32-bit words are hashed into a pool of four
//! words by `SeedSequence`, the pool is expanded into a 128-bit state and increment, and PCG64 (a 128-bit
//! LCG with the XSL-RR output function) produces 64-bit words. Games that must replay exactly the
//! trajectories of a Python implementation draw from this generator in the same order as the Python code.

/// Multiplier of NumPy's 128-bit LCG (`PCG_DEFAULT_MULTIPLIER_128`).
const PCG_MULTIPLIER: u128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645;

// Constants of NumPy's `SeedSequence` hash.
const POOL_SIZE: usize = 4;
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

/// The entropy pool of `np.random.SeedSequence(seed)` for an integer seed without spawn key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeedSequence {
    pool: [u32; POOL_SIZE],
}

impl SeedSequence {
    /// Mixes the seed's little-endian 32-bit words into the pool, as `SeedSequence.mix_entropy` does.
    pub(crate) fn new(seed: u64) -> SeedSequence {
        // `_coerce_to_uint32_array`: least significant word first, zero is the single word `[0]`.
        let entropy: Vec<u32> = if seed >> 32 == 0 {
            vec![seed as u32]
        } else {
            vec![seed as u32, (seed >> 32) as u32]
        };
        let mut hash_const = INIT_A;
        let mut hashmix = |value: u32| -> u32 {
            let mut value = value ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_A);
            value = value.wrapping_mul(hash_const);
            value ^ (value >> XSHIFT)
        };
        let mix = |x: u32, y: u32| -> u32 {
            let result = MIX_MULT_L
                .wrapping_mul(x)
                .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
            result ^ (result >> XSHIFT)
        };
        let mut pool = [0u32; POOL_SIZE];
        for (i, slot) in pool.iter_mut().enumerate() {
            *slot = hashmix(entropy.get(i).copied().unwrap_or(0));
        }
        for src in 0..POOL_SIZE {
            for dst in 0..POOL_SIZE {
                if src != dst {
                    pool[dst] = mix(pool[dst], hashmix(pool[src]));
                }
            }
        }
        // Entropy longer than the pool is folded in afterwards; a u64 seed never is.
        for &word in entropy.iter().skip(POOL_SIZE) {
            for slot in pool.iter_mut() {
                *slot = mix(*slot, hashmix(word));
            }
        }
        SeedSequence { pool }
    }

    /// `generate_state(n_words, np.uint64)`: 64-bit words built from pairs of 32-bit words, low word first.
    pub(crate) fn generate_state_u64(&self, n_words: usize) -> Vec<u64> {
        let mut hash_const = INIT_B;
        let words32: Vec<u32> = (0..n_words * 2)
            .map(|i| {
                let mut value = self.pool[i % POOL_SIZE] ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                value = value.wrapping_mul(hash_const);
                value ^ (value >> XSHIFT)
            })
            .collect();
        words32
            .chunks_exact(2)
            .map(|pair| u64::from(pair[0]) | (u64::from(pair[1]) << 32))
            .collect()
    }
}

/// NumPy's `PCG64` bit generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pcg64 {
    state: u128,
    increment: u128,
}

impl Pcg64 {
    /// `PCG64(seed_sequence)`: four generated words give the initial state and the stream.
    pub(crate) fn from_seed_sequence(seq: &SeedSequence) -> Pcg64 {
        let words = seq.generate_state_u64(4);
        let init_state = (u128::from(words[0]) << 64) | u128::from(words[1]);
        let init_seq = (u128::from(words[2]) << 64) | u128::from(words[3]);
        // `pcg_setseq_128_srandom_r`.
        let mut rng = Pcg64 {
            state: 0,
            increment: (init_seq << 1) | 1,
        };
        rng.advance();
        rng.state = rng.state.wrapping_add(init_state);
        rng.advance();
        rng
    }

    fn advance(&mut self) {
        self.state = self
            .state
            .wrapping_mul(PCG_MULTIPLIER)
            .wrapping_add(self.increment);
    }

    /// Next 64-bit output: step the LCG, then XSL-RR of the new state.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.advance();
        let rotation = (self.state >> 122) as u32;
        let folded = ((self.state >> 64) as u64) ^ (self.state as u64);
        folded.rotate_right(rotation)
    }

    /// The 128-bit state and increment as hex, for canonical state dumps.
    pub(crate) fn state_hex(&self) -> (String, String) {
        (
            format!("{:032x}", self.state),
            format!("{:032x}", self.increment),
        )
    }
}

/// `np.random.Generator` over [`Pcg64`], with the draws the games use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generator {
    bits: Pcg64,
}

impl Generator {
    /// `np.random.default_rng(seed)`.
    pub(crate) fn default_rng(seed: u64) -> Generator {
        Generator {
            bits: Pcg64::from_seed_sequence(&SeedSequence::new(seed)),
        }
    }

    /// `Generator.random()`: a double in `[0, 1)` from the top 53 bits of one output.
    pub(crate) fn random(&mut self) -> f64 {
        (self.bits.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `Generator.uniform(low, high)`: `low + (high - low) * random()`.
    pub(crate) fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let range = high - low;
        low + range * self.random()
    }

    /// The underlying bit generator, for state dumps.
    pub(crate) fn bits(&self) -> &Pcg64 {
        &self.bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by NumPy 2.4 for `np.random.default_rng(seed).random()` and friends.
    #[test]
    fn matches_numpy_first_draws() {
        assert_eq!(Generator::default_rng(0).random(), 0.6369616873214543);
        assert_eq!(Generator::default_rng(42).random(), 0.7739560485559633);
        assert_eq!(
            Generator::default_rng(42).uniform(-0.01, 0.01),
            0.005479120971119267
        );
        assert_eq!(
            Generator::default_rng(u64::MAX).random(),
            0.6800266789616931
        );
    }

    /// `[int(g.bit_generator.random_raw()) for _ in range(3)]` for one- and two-word seeds.
    #[test]
    fn matches_numpy_raw_outputs() {
        let table: [(u64, [u64; 3]); 6] = [
            (
                0,
                [
                    11749869230777074271,
                    4976686463289251617,
                    755828109848996024,
                ],
            ),
            (
                1,
                [
                    9441442522235856127,
                    17532960557476522086,
                    2659275481604167885,
                ],
            ),
            (
                4294967295,
                [
                    4647538520743280031,
                    4041050679407036418,
                    5299467714154781845,
                ],
            ),
            (
                4294967301,
                [
                    14281546376153053393,
                    8683300866460616067,
                    12836726618003871680,
                ],
            ),
            (
                u64::MAX,
                [
                    12544278110101001871,
                    15593249672699323225,
                    136562751618339402,
                ],
            ),
            (
                123456789012345,
                [
                    9776902893865078502,
                    819811936507288463,
                    13970844376539046492,
                ],
            ),
        ];
        for (seed, want) in table {
            let mut bits = Pcg64::from_seed_sequence(&SeedSequence::new(seed));
            let got = [bits.next_u64(), bits.next_u64(), bits.next_u64()];
            assert_eq!(got, want, "seed {seed}");
        }
    }
}
