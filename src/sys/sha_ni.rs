//! SHA-256 block compression with the x86 SHA extensions (SHA-NI: AMD
//! since Zen, Intel since Goldmont/Ice Lake). The seccomp cache hashes
//! ~20 KiB on every create (issue 7: the profile's key and the program's
//! checksum); the portable code, built for size, takes ~0.1 ms of that,
//! these instructions a few microseconds.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Compresses the whole 64-byte blocks of `blocks` into `state` (FIPS
/// 180-4 word order) with round constants `k`. Returns false, leaving
/// `state` untouched, when the CPU lacks the instructions or `blocks` is
/// not a whole number of blocks: the caller then does it portably.
pub fn compress(state: &mut [u32; 8], blocks: &[u8], k: &[u32; 64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if blocks.len().is_multiple_of(64)
            && is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse4.1")
            && is_x86_feature_detected!("ssse3")
        {
            // SAFETY: the instructions it uses were detected just above;
            // it reads `blocks` only in whole 64-byte chunks and `k` only
            // within its 64 words.
            unsafe { compress_ni(state, blocks, k) };
            return true;
        }
    }
    let _ = (state, blocks, k);
    false
}

/// The SHA rounds keep the state as two vectors, ABEF and CDGH; each
/// `sha256rnds2` does two rounds and swaps their roles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress_ni(state: &mut [u32; 8], blocks: &[u8], k: &[u32; 64]) {
    // Big-endian message words: byte-reverse each 32-bit lane.
    let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    let dcba = _mm_loadu_si128(state.as_ptr() as *const __m128i);
    let hgfe = _mm_loadu_si128(state.as_ptr().add(4) as *const __m128i);
    let cdab = _mm_shuffle_epi32::<0xB1>(dcba);
    let efgh = _mm_shuffle_epi32::<0x1B>(hgfe);
    let mut abef = _mm_alignr_epi8::<8>(cdab, efgh);
    let mut cdgh = _mm_blend_epi16::<0xF0>(efgh, cdab);
    for block in blocks.chunks_exact(64) {
        let (abef0, cdgh0) = (abef, cdgh);
        let p = block.as_ptr() as *const __m128i;
        // w[g % 4] holds message words 4g..4g+3 for round group g.
        let mut w = [
            _mm_shuffle_epi8(_mm_loadu_si128(p), bswap),
            _mm_shuffle_epi8(_mm_loadu_si128(p.add(1)), bswap),
            _mm_shuffle_epi8(_mm_loadu_si128(p.add(2)), bswap),
            _mm_shuffle_epi8(_mm_loadu_si128(p.add(3)), bswap),
        ];
        for g in 0..16 {
            if g >= 4 {
                // W[t..t+4] from W[t-16..t-12] (the slot being replaced),
                // W[t-12..], W[t-7..t-3] and W[t-4..].
                let t = _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]);
                let t = _mm_add_epi32(t, _mm_alignr_epi8::<4>(w[(g + 3) % 4], w[(g + 2) % 4]));
                w[g % 4] = _mm_sha256msg2_epu32(t, w[(g + 3) % 4]);
            }
            let kv = _mm_loadu_si128(k.as_ptr().add(4 * g) as *const __m128i);
            let msg = _mm_add_epi32(w[g % 4], kv);
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
            // `abef` now holds C, D, G, H of the new state, `cdgh` A, B,
            // E, F: the second call swaps them back.
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32::<0x0E>(msg));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    let feba = _mm_shuffle_epi32::<0x1B>(abef);
    let dchg = _mm_shuffle_epi32::<0xB1>(cdgh);
    let dcba = _mm_blend_epi16::<0xF0>(feba, dchg);
    let hgfe = _mm_alignr_epi8::<8>(dchg, feba);
    _mm_storeu_si128(state.as_mut_ptr() as *mut __m128i, dcba);
    _mm_storeu_si128(state.as_mut_ptr().add(4) as *mut __m128i, hgfe);
}
