//! Little-endian encoding shared by the WAL and the snapshot, and the CRC-checked frame both use.

/// A payload that does not decode: the bytes were checksummed, so this means a format mismatch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DecodeError(pub &'static str);

/// Appends little-endian values to a buffer.
pub(crate) struct Enc<'a>(pub &'a mut Vec<u8>);

impl Enc<'_> {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    /// Raw bytes of a fixed length: the reader knows how many.
    pub fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    pub fn u32_rows<const N: usize>(&mut self, rows: &[[u32; N]]) {
        self.0.reserve(rows.len() * N * 4);
        for row in rows {
            for v in row {
                self.0.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    pub fn f64_rows<const N: usize>(&mut self, rows: &[[f64; N]]) {
        self.0.reserve(rows.len() * N * 8);
        for row in rows {
            for v in row {
                self.0.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// Reads little-endian values from a byte slice, failing (never panicking) on short input.
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dec { buf }
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError("unexpected end of data"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub fn array<const K: usize>(&mut self) -> Result<[u8; K], DecodeError> {
        let mut a = [0u8; K];
        a.copy_from_slice(self.take(K)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError("string is not UTF-8"))
    }
    /// Fills `rows` straight from the bytes, like [`Dec::f64_rows`].
    pub fn u32_rows<const N: usize>(&mut self, rows: &mut [[u32; N]]) -> Result<(), DecodeError> {
        let bytes = self.take(rows.len() * N * 4)?;
        for (row, chunk) in rows.iter_mut().zip(bytes.chunks_exact(N * 4)) {
            for (v, b) in row.iter_mut().zip(chunk.chunks_exact(4)) {
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                *v = u32::from_le_bytes(a);
            }
        }
        Ok(())
    }
    /// Fills `rows` straight from the bytes: the snapshot's hot path, no per-value bookkeeping.
    pub fn f64_rows<const N: usize>(&mut self, rows: &mut [[f64; N]]) -> Result<(), DecodeError> {
        let bytes = self.take(rows.len() * N * 8)?;
        for (row, chunk) in rows.iter_mut().zip(bytes.chunks_exact(N * 8)) {
            for (v, b) in row.iter_mut().zip(chunk.chunks_exact(8)) {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                *v = f64::from_le_bytes(a);
            }
        }
        Ok(())
    }
}

/// Frame header: payload length (u32) and CRC32 of the payload (u32).
pub(crate) const FRAME_HEADER: usize = 8;
/// No record or snapshot block is this large; a bigger length is a torn or corrupt header.
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// Starts a frame in `buf`: reserves the header, to be filled by [`finish_frame`].
pub(crate) fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_HEADER]);
    start
}

/// Writes length and CRC of everything after the header started at `start`.
pub(crate) fn finish_frame(buf: &mut [u8], start: usize) {
    let payload = &buf[start + FRAME_HEADER..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a frame could not be read at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The data ends inside the frame.
    Truncated,
    /// Length out of range or checksum mismatch.
    Corrupt,
}

/// Parses the frame at the start of `buf`: returns its payload and total size.
pub(crate) fn read_frame(buf: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if buf.len() < FRAME_HEADER {
        return Err(FrameError::Truncated);
    }
    let (len, crc) = parse_frame_header(&buf[..FRAME_HEADER])?;
    let end = FRAME_HEADER + len;
    if buf.len() < end {
        return Err(FrameError::Truncated);
    }
    let payload = &buf[FRAME_HEADER..end];
    if crc32fast::hash(payload) != crc {
        return Err(FrameError::Corrupt);
    }
    Ok((payload, end))
}

/// Length and CRC from a frame header.
pub(crate) fn parse_frame_header(h: &[u8]) -> Result<(usize, u32), FrameError> {
    let mut d = Dec::new(h);
    let (Ok(len), Ok(crc)) = (d.u32(), d.u32()) else {
        return Err(FrameError::Truncated);
    };
    let len = len as usize;
    // Never written empty: zeros are what a crash can leave past the end of the data.
    if len == 0 || len > MAX_FRAME {
        return Err(FrameError::Corrupt);
    }
    Ok((len, crc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_values_and_frames() {
        let mut buf = Vec::new();
        let start = begin_frame(&mut buf);
        let mut e = Enc(&mut buf);
        e.u8(7);
        e.i64(-5);
        e.f64(0.25);
        e.str("héllo");
        e.f64_rows(&[[1.0, 2.0], [3.0, 4.0]]);
        finish_frame(&mut buf, start);

        let (payload, size) = read_frame(&buf).unwrap();
        assert_eq!(size, buf.len());
        let mut d = Dec::new(payload);
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.i64().unwrap(), -5);
        assert_eq!(d.f64().unwrap(), 0.25);
        assert_eq!(d.str().unwrap(), "héllo");
        let mut rows = [[0.0; 2]; 2];
        d.f64_rows(&mut rows).unwrap();
        assert_eq!(rows, [[1.0, 2.0], [3.0, 4.0]]);
        assert!(d.is_empty());
        assert!(d.u8().is_err());
    }

    #[test]
    fn detects_torn_and_flipped_frames() {
        let mut buf = Vec::new();
        let start = begin_frame(&mut buf);
        Enc(&mut buf).str("payload");
        finish_frame(&mut buf, start);
        assert_eq!(
            read_frame(&buf[..buf.len() - 1]).unwrap_err(),
            FrameError::Truncated
        );
        let last = buf.len() - 1;
        buf[last] ^= 0x40;
        assert_eq!(read_frame(&buf).unwrap_err(), FrameError::Corrupt);
    }
}
