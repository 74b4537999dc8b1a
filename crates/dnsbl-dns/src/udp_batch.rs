//! Batched UDP I/O of one listener thread: up to [`BATCH`] datagrams received with one
//! `recvmmsg` and their responses sent with one `sendmmsg` (Linux `recvmmsg(2)`,
//! `sendmmsg(2)`), in buffers allocated once per thread.
//!
//! `recvmmsg` comes from the nix crate and `sendmmsg` from rustix, because each wraps its
//! call soundly without `unsafe` here: iterating the result of nix's `sendmmsg` reads
//! address slots that only a receive fills, and rustix has no `recvmmsg`.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use rustix::io::Errno;
use rustix::net::addr::SocketAddrArg;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};

use crate::truncation;

/// Datagrams per `recvmmsg` and `sendmmsg` call.
pub(crate) const BATCH: usize = 64;
/// Largest send that gets a header array of this size instead of [`BATCH`] entries.
const SMALL_BATCH: usize = 4;
/// Receive buffer per datagram: larger than any UDP payload a client may send with EDNS.
const RECEIVE_BUFFER: usize = 65_535;
/// Response capacity reserved per datagram: the largest payload the wire path writes.
const RESPONSE_CAPACITY: usize = crate::MAX_UDP_PAYLOAD as usize;

/// The buffers of one batch, reused for every call.
pub(crate) struct Batch {
    /// `BATCH` receive buffers of `RECEIVE_BUFFER` bytes each (4 MiB), one after the other.
    /// NOTE: the resident part depends on the allocator. When it maps the block fresh
    /// (glibc above its mmap threshold), pages the kernel never writes use no memory.
    requests: Box<[u8]>,
    lengths: [usize; BATCH],
    /// Source of each datagram; `None` when it is neither IPv4 nor IPv6.
    clients: [Option<SocketAddr>; BATCH],
    /// The same addresses in the form `sendmmsg` takes.
    destinations: [SocketAddrAny; BATCH],
    /// Datagrams received by the last [`receive`](Self::receive).
    received: usize,
    responses: [Vec<u8>; BATCH],
    /// Whether `responses[i]` is to be sent to `clients[i]`.
    reply: [bool; BATCH],
    receive_headers: MultiHeaders<SockaddrStorage>,
}

impl Batch {
    pub(crate) fn new() -> Self {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0)).as_any();
        Batch {
            requests: vec![0u8; BATCH * RECEIVE_BUFFER].into_boxed_slice(),
            lengths: [0; BATCH],
            clients: [None; BATCH],
            destinations: std::array::from_fn(|_| unspecified.clone()),
            received: 0,
            responses: std::array::from_fn(|_| Vec::with_capacity(RESPONSE_CAPACITY)),
            reply: [false; BATCH],
            receive_headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Waits for at least one datagram (up to the socket's read timeout) and takes every
    /// datagram already queued, up to [`BATCH`]. Returns how many arrived.
    pub(crate) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received = 0;
        self.receive_more(socket, MsgFlags::MSG_WAITFORONE)
    }

    /// Takes the datagrams queued now, up to [`BATCH`] in all, after those already
    /// received. Returns how many there are in all.
    pub(crate) fn receive_queued(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.receive_more(socket, MsgFlags::MSG_DONTWAIT)
    }

    /// Receives into the free slots after those already filled, with `recvmmsg` `flags`.
    fn receive_more(&mut self, socket: &UdpSocket, flags: MsgFlags) -> io::Result<usize> {
        let start = self.received;
        if start == BATCH {
            return Ok(start);
        }
        let mut buffers = self.requests[start * RECEIVE_BUFFER..].chunks_exact_mut(RECEIVE_BUFFER);
        // The last `start` entries get empty buffers, and they are not passed to the kernel.
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
            let buffer = buffers.next().unwrap_or_default();
            [IoSliceMut::new(buffer)]
        });
        // With MSG_WAITFORONE the call blocks for the first datagram only, then takes what
        // is queued. With MSG_DONTWAIT it takes only what is queued.
        let messages = recvmmsg(
            socket.as_raw_fd(),
            &mut self.receive_headers,
            slices[..BATCH - start].iter_mut(),
            flags,
            None,
        )
        .map_err(io::Error::from)?;
        for (offset, message) in messages.enumerate() {
            let slot = start + offset;
            let client = message.address.as_ref().and_then(socket_addr);
            self.lengths[slot] = message.bytes;
            self.clients[slot] = client;
            if let Some(client) = client {
                self.destinations[slot] = client.as_any();
            }
            self.reply[slot] = false;
            self.received = slot + 1;
        }
        Ok(self.received)
    }

    /// How many datagrams the batch holds.
    pub(crate) fn received(&self) -> usize {
        self.received
    }

    /// The requests received, in slot order.
    pub(crate) fn requests(&self) -> impl Iterator<Item = &[u8]> {
        self.requests
            .chunks_exact(RECEIVE_BUFFER)
            .zip(&self.lengths)
            .take(self.received)
            .map(|(request, &length)| &request[..length])
    }

    /// Calls `respond` with each received request, its client and the response buffer
    /// of its slot; `respond` returns whether the response is to be sent. A datagram
    /// whose source is neither IPv4 nor IPv6 is dropped.
    pub(crate) fn respond_each(
        &mut self,
        mut respond: impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool,
    ) {
        let requests = self.requests.chunks_exact(RECEIVE_BUFFER);
        for (slot, request) in requests.take(self.received).enumerate() {
            let Some(client) = self.clients[slot] else {
                continue;
            };
            let request = &request[..self.lengths[slot]];
            self.reply[slot] = respond(request, client, &mut self.responses[slot]);
        }
    }

    /// Sends the responses that [`respond_each`](Self::respond_each) marked, in as few
    /// `sendmmsg` calls as the kernel allows. A response the kernel rejects as too large
    /// for the interface (`EMSGSIZE`, because the socket sets DF) is sent once more in its
    /// truncated form. Any other message the kernel rejects is skipped after `failed` is
    /// called with the error and its client. Returns how many responses were truncated.
    pub(crate) fn send(
        &mut self,
        socket: &UdpSocket,
        mut failed: impl FnMut(io::Error, SocketAddr),
    ) -> usize {
        let mut slots = [0usize; BATCH];
        let mut queued = 0;
        for slot in 0..self.received {
            if self.reply[slot] {
                slots[queued] = slot;
                queued += 1;
            }
        }
        let mut truncated = 0;
        let mut start = 0;
        while start < queued {
            let pending = &slots[start..queued];
            // Small batches are common below full load, so they get a small header array.
            let result = if pending.len() <= SMALL_BATCH {
                self.send_some::<SMALL_BATCH>(socket, pending)
            } else {
                self.send_some::<BATCH>(socket, pending)
            };
            match result {
                Ok(0) => break,
                Ok(sent) => start += sent,
                Err(Errno::INTR) => {}
                Err(Errno::MSGSIZE)
                    if truncation::truncate_encoded(&mut self.responses[slots[start]]) =>
                {
                    truncated += 1;
                }
                Err(error) => {
                    let client = self.clients[slots[start]].expect("a queued slot has a client");
                    failed(io::Error::from(error), client);
                    start += 1;
                }
            }
        }
        truncated
    }

    /// Sends the responses of `slots` (at most `N`) with one `sendmmsg`. Returns how many
    /// the kernel took.
    fn send_some<const N: usize>(
        &self,
        socket: &UdpSocket,
        slots: &[usize],
    ) -> Result<usize, Errno> {
        let count = slots.len().min(N);
        let mut controls: [SendAncillaryBuffer<'_, '_, '_>; N] =
            std::array::from_fn(|_| SendAncillaryBuffer::default());
        let mut controls = controls.iter_mut();
        let slices: [IoSlice<'_>; N] =
            std::array::from_fn(|index| IoSlice::new(&self.responses[slots[index.min(count - 1)]]));
        // Entries past `count` repeat the last message and are not passed to the kernel.
        let mut messages: [MMsgHdr<'_>; N] = std::array::from_fn(|index| {
            let slot = slots[index.min(count - 1)];
            MMsgHdr::new_with_addr(
                &self.destinations[slot],
                std::slice::from_ref(&slices[index]),
                controls.next().expect("one control buffer per message"),
            )
        });
        sendmmsg(socket, &mut messages[..count], SendFlags::empty())
    }
}

/// Returns the IPv4 or IPv6 address in `storage`, or `None` for another family.
fn socket_addr(storage: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    storage.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::limits::wire::tests::response;

    /// `response()` with two more answer records of 40,000 bytes of RDATA each: larger than any
    /// UDP datagram, so the kernel rejects it with `EMSGSIZE`.
    fn oversized_response() -> Vec<u8> {
        let mut message = response();
        let opt = message.split_off(message.len() - 11);
        for _ in 0..2 {
            // The owner is a pointer to the question name, with type NULL, class IN and TTL 60.
            message.extend_from_slice(&[0xc0, 0x0c, 0, 10, 0, 1, 0, 0, 0, 60]);
            message.extend_from_slice(&40_000u16.to_be_bytes());
            message.resize(message.len() + 40_000, 0);
        }
        message.extend_from_slice(&opt);
        message[7] = 3;
        message
    }

    #[test]
    fn oversized_response_is_sent_truncated() {
        let server = crate::fast_udp::bind_socket(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client
            .send_to(b"any request", server.local_addr().unwrap())
            .unwrap();

        let mut batch = Batch::new();
        assert_eq!(batch.receive(&server).unwrap(), 1);
        batch.respond_each(|_, _, response| {
            *response = oversized_response();
            true
        });
        let mut failures = Vec::new();
        batch.send(&server, |error, client| {
            failures.push((error.kind(), client))
        });
        assert!(failures.is_empty(), "{failures:?}");

        let mut received = [0u8; 2048];
        let len = client.recv(&mut received).unwrap();
        let mut expected = response();
        expected[2] |= 0x02;
        expected[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 1]);
        let opt = expected.split_off(expected.len() - 11);
        expected.truncate(12 + 22 + 4);
        expected.extend_from_slice(&opt);
        assert_eq!(&received[..len], expected);
    }
}
