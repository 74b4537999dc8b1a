//! The column encoding of addresses: a `family` of 4 or 6 and 16-byte big-endian BLOBs.
//!
//! An IPv4 address is its 32-bit value after 12 zero bytes, so BLOB comparison orders the
//! addresses of one family numerically.

use dnsbl_core::AddrRange;

use crate::StoreError;

/// Encodes one address value (an IPv4 `u32` widened, or an IPv6 `u128`).
pub(crate) fn encode(value: u128) -> [u8; 16] {
    value.to_be_bytes()
}

/// Splits a range into its `family`, start and end columns.
pub(crate) fn range_columns(range: &AddrRange) -> (i64, [u8; 16], [u8; 16]) {
    match *range {
        AddrRange::V4 { start, end } => (4, encode(start.into()), encode(end.into())),
        AddrRange::V6 { start, end } => (6, encode(start), encode(end)),
    }
}

fn decode(blob: &[u8]) -> Result<u128, StoreError> {
    let bytes: [u8; 16] = blob.try_into().map_err(|_| {
        StoreError::InvalidData(format!("address BLOB of {} bytes, expected 16", blob.len()))
    })?;
    Ok(u128::from_be_bytes(bytes))
}

/// Rebuilds a range from its `family`, start and end columns.
pub(crate) fn decode_range(family: i64, start: &[u8], end: &[u8]) -> Result<AddrRange, StoreError> {
    let (start, end) = (decode(start)?, decode(end)?);
    let range = match family {
        4 => {
            let narrow = |value: u128| {
                u32::try_from(value).map_err(|_| {
                    StoreError::InvalidData(format!("IPv4 address value {value} exceeds 32 bits"))
                })
            };
            AddrRange::V4 {
                start: narrow(start)?,
                end: narrow(end)?,
            }
        }
        6 => AddrRange::V6 { start, end },
        other => {
            return Err(StoreError::InvalidData(format!(
                "address family {other}, expected 4 or 6"
            )));
        }
    };
    let ordered = match range {
        AddrRange::V4 { start, end } => start <= end,
        AddrRange::V6 { start, end } => start <= end,
    };
    if !ordered {
        return Err(StoreError::InvalidData(format!(
            "range starts after its end ({} > {})",
            range.start(),
            range.end()
        )));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip() {
        for text in ["192.0.2.0/24", "0.0.0.0/0", "2001:db8::/32", "::/0", "::1"] {
            let range: AddrRange = text.parse().unwrap();
            let (family, start, end) = range_columns(&range);
            assert_eq!(decode_range(family, &start, &end).unwrap(), range, "{text}");
        }
    }

    #[test]
    fn blob_order_is_numeric_order() {
        let low = encode(u128::from(u32::from_be_bytes([9, 255, 255, 255])));
        let high = encode(u128::from(u32::from_be_bytes([10, 0, 0, 0])));
        assert!(low < high);
    }

    #[test]
    fn invalid_columns_rejected() {
        let wide = encode(u128::from(u32::MAX) + 1);
        assert!(decode_range(4, &wide, &wide).is_err());
        assert!(decode_range(5, &encode(1), &encode(1)).is_err());
        assert!(decode_range(6, &encode(2), &encode(1)).is_err());
        assert!(decode_range(6, &[0; 4], &encode(1)).is_err());
    }
}
