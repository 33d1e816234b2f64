use super::*;

#[test]
fn keys_and_bounds() {
    let v4 = crate::net::addr("10.0.1.2").unwrap();
    assert_eq!(hex_key(&v4), "00000000000000000000ffff0a000102");
    let c: Cidr = "10.0.0.0/16".parse().unwrap();
    let (lo, hi) = c.bounds();
    assert_eq!(hex_key(&lo), "00000000000000000000ffff0a000000");
    assert_eq!(hex_key(&hi), "00000000000000000000ffff0a00ffff");
    let c: Cidr = "2600:1f18::/32".parse().unwrap();
    let (lo, hi) = c.bounds();
    assert_eq!(hex_key(&lo), "26001f18000000000000000000000000");
    assert_eq!(hex_key(&hi), "26001f18ffffffffffffffffffffffff");
}
