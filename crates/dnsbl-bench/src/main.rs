//! A do-nothing DNS responder for the benchmark: answers every datagram with NXDOMAIN
//! (RFC 1035 §4.1.1 RCODE 3) by flipping the header of the request, one `recvfrom` and
//! one `sendto` per query. Its CPU time per query is the floor of any UDP server on the
//! machine, and its query rate the ceiling of the load generator.
//!
//! usage: dnsbl-null-responder ADDRESS:PORT

use std::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5399".to_string());
    let socket = UdpSocket::bind(&address)?;
    let mut packet = [0u8; 4096];
    loop {
        let (len, src) = socket.recv_from(&mut packet)?;
        if len < 12 {
            continue;
        }
        // QR set, opcode and RD kept; RA clear, RCODE NXDOMAIN.
        packet[2] = 0x80 | (packet[2] & 0x79);
        packet[3] = 3;
        socket.send_to(&packet[..len], src)?;
    }
}
