//! Cover images of the fixture series, made on the fly: a poster-sized gradient in a colour of
//! the series' own, as a PNG (aniworld serves `.png` covers) or a baseline JPEG (s.to serves
//! `.jpg`). Both encoders are the smallest that browsers and the server's checks accept.

/// Width and height of every cover (multiples of 8, the JPEG block size).
pub const WIDTH: usize = 112;
pub const HEIGHT: usize = 168;

/// The colour of row `y` of `key`'s cover: a hue from the key, light at the top, dark below.
fn colour(key: &str, y: usize) -> [u8; 3] {
    let hue = key
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360;
    let light = 0.62 - 0.4 * (y as f64 / HEIGHT as f64);
    hsl_to_rgb(f64::from(hue), 0.55, light)
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = l - c / 2.0;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let to = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to(r), to(g), to(b)]
}

/// `key`'s cover as a PNG (RGB, stored deflate blocks).
pub fn png(key: &str) -> Vec<u8> {
    let mut raw = Vec::with_capacity(HEIGHT * (1 + WIDTH * 3));
    for y in 0..HEIGHT {
        raw.push(0); // filter: none
        let c = colour(key, y);
        for _ in 0..WIDTH {
            raw.extend_from_slice(&c);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(block) = blocks.next() {
        zlib.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&(WIDTH as u32).to_be_bytes());
    header.extend_from_slice(&(HEIGHT as u32).to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &header);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// `key`'s cover as a baseline JPEG: 4:4:4 YCbCr, every 8×8 block one colour, so only DC
/// coefficients are coded (quantisation 1, a 12-symbol DC table, an AC table of just EOB).
pub fn jpeg(key: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // JFIF header.
    out.extend_from_slice(&[
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
    ]);
    // One quantisation table of ones.
    out.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend_from_slice(&[1u8; 64]);
    // Frame: 8-bit, HEIGHT × WIDTH, three components without subsampling, table 0.
    out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    out.extend_from_slice(&(HEIGHT as u16).to_be_bytes());
    out.extend_from_slice(&(WIDTH as u16).to_be_bytes());
    out.extend_from_slice(&[0x03, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    // Huffman tables: DC categories 0..=11 as 4-bit codes; AC with EOB only ("0").
    out.extend_from_slice(&[0xFF, 0xC4, 0x00, 49, 0x00]);
    let mut dc_counts = [0u8; 16];
    dc_counts[3] = 12;
    out.extend_from_slice(&dc_counts);
    out.extend(0u8..12);
    out.push(0x10);
    let mut ac_counts = [0u8; 16];
    ac_counts[0] = 1;
    out.extend_from_slice(&ac_counts);
    out.push(0x00);
    // Scan of the three components.
    out.extend_from_slice(&[
        0xFF, 0xDA, 0x00, 0x0C, 0x03, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0,
    ]);

    let mut bits = BitWriter::default();
    let mut previous = [0i32; 3];
    for by in 0..HEIGHT / 8 {
        let [r, g, b] = colour(key, by * 8 + 4).map(f64::from);
        let ycc = [
            0.299 * r + 0.587 * g + 0.114 * b,
            128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
            128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
        ];
        let dc = ycc.map(|v| 8 * (v.round().clamp(0.0, 255.0) as i32 - 128));
        for _ in 0..WIDTH / 8 {
            for c in 0..3 {
                let diff = dc[c] - previous[c];
                previous[c] = dc[c];
                let category = 32 - diff.unsigned_abs().leading_zeros();
                bits.put(category, 4);
                if category > 0 {
                    let value = if diff < 0 {
                        diff + (1 << category) - 1
                    } else {
                        diff
                    };
                    bits.put(value as u32, category);
                }
                bits.put(0, 1); // EOB
            }
        }
    }
    out.extend_from_slice(&bits.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// Entropy-coded bits, most significant first, with 0xFF bytes stuffed.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u32) {
        for i in (0..count).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.byte();
            }
        }
    }

    fn byte(&mut self) {
        let b = self.acc as u8;
        self.out.push(b);
        if b == 0xFF {
            self.out.push(0x00);
        }
        self.acc = 0;
        self.n = 0;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_carry_their_format_signature_and_differ_per_series() {
        let p = png("dark");
        assert!(p.starts_with(b"\x89PNG\r\n\x1a\n") && p.ends_with(&crc32(b"IEND").to_be_bytes()));
        let j = jpeg("dark");
        assert!(j.starts_with(&[0xFF, 0xD8, 0xFF]) && j.ends_with(&[0xFF, 0xD9]));
        assert_ne!(jpeg("dark"), jpeg("breaking-bad"));
        // Known check values.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }
}
