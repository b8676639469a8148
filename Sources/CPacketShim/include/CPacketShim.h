// CPacketShim: the few Linux packet-socket calls Swift cannot spell directly
// (sockaddr_ll, PACKET_ADD_MEMBERSHIP, a classic BPF filter, IPv6 group membership).
// Every function returns -1 and leaves errno set on failure.
#ifndef CPACKETSHIM_H
#define CPACKETSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// The kernel's packet types (sll_pkttype) the receiver reports.
enum {
    CPS_PACKET_HOST = 0,
    CPS_PACKET_BROADCAST = 1,
    CPS_PACKET_MULTICAST = 2,
    CPS_PACKET_OTHERHOST = 3,
    CPS_PACKET_OUTGOING = 4,
};

/// Opens an AF_PACKET raw socket bound to `ifindex` that only ever delivers untagged ARP
/// and ICMPv6 Neighbor Solicitations without extension headers (the filter is attached
/// before the bind, and frames queued before it are drained). Close-on-exec, blocking.
int cps_open(int ifindex);

/// Joins (`join` != 0) or leaves an Ethernet multicast group on the socket's interface
/// (PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST).
int cps_multicast_mac(int fd, int ifindex, const uint8_t mac[6], int join);

/// Opens an AF_INET6 datagram socket used only to hold IPv6 group memberships, so that the
/// kernel reports them with MLD (switches with MLD snooping then forward the group here).
int cps_open_ipv6_membership_socket(void);

/// Joins or leaves an IPv6 multicast group on `ifindex` (IPV6_ADD/DROP_MEMBERSHIP).
int cps_ipv6_group(int fd, int ifindex, const uint8_t group[16], int join);

/// Sends one frame (destination MAC = its first 6 bytes) out of `ifindex`.
ssize_t cps_send(int fd, int ifindex, const uint8_t *frame, size_t length);

/// Receives one frame; `pkttype` gets its CPS_PACKET_* type. With `wait`, blocks up to the
/// socket's receive timeout. Returns its length, 0 if none arrived (timeout, EAGAIN, EINTR),
/// or -1.
ssize_t cps_receive(int fd, uint8_t *buffer, size_t capacity, int *pkttype, int wait);

/// Sets how long a waiting receive blocks (SO_RCVTIMEO); 0 waits forever.
int cps_set_receive_timeout(int fd, int timeout_ms);

struct sockaddr;

/// Copies the 6-byte hardware address out of an AF_PACKET sockaddr (getifaddrs); returns 1,
/// or 0 when `address` is not AF_PACKET or its address is not 6 bytes long.
int cps_link_address(const struct sockaddr *address, uint8_t mac[6]);

/// Names the calling thread (Linux keeps the first 15 bytes): what `ps -T` and debuggers show.
int cps_name_current_thread(const char *name);

#endif
