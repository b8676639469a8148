// CPacketShim: see include/CPacketShim.h.
#define _GNU_SOURCE
#include "CPacketShim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Classic BPF: accept untagged ARP (EtherType 0x0806, RFC 826) and IPv6 (0x86DD) whose next
// header is ICMPv6 (58) with type 135 (Neighbor Solicitation, RFC 4861 §4.3); drop frames
// whose VLAN tag the NIC stripped into metadata, and everything else.
static struct sock_filter arp_and_ns[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 8),
    /* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 5, 0),
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 5),
    /* 5 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 6),
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, 3),
    /* 7 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 40),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 0, 1),
    /* 9 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
    /* 10 */ BPF_STMT(BPF_RET | BPF_K, 0),
};

int cps_open(int ifindex) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -1;
    struct sock_fprog program = { .len = sizeof(arp_and_ns) / sizeof(arp_and_ns[0]), .filter = arp_and_ns };
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) < 0) goto fail;
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) goto fail;
    // Frames that arrived between socket() and the filter are not filtered: drain them.
    uint8_t scratch[64];
    while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) >= 0) {}
    return fd;
fail: {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
}

int cps_multicast_mac(int fd, int ifindex, const uint8_t mac[6], int join) {
    struct packet_mreq request;
    memset(&request, 0, sizeof(request));
    request.mr_ifindex = ifindex;
    request.mr_type = PACKET_MR_MULTICAST;
    request.mr_alen = 6;
    memcpy(request.mr_address, mac, 6);
    return setsockopt(fd, SOL_PACKET, join ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &request, sizeof(request));
}

int cps_open_ipv6_membership_socket(void) {
    return socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

int cps_ipv6_group(int fd, int ifindex, const uint8_t group[16], int join) {
    struct ipv6_mreq request;
    memset(&request, 0, sizeof(request));
    memcpy(&request.ipv6mr_multiaddr, group, 16);
    request.ipv6mr_interface = (unsigned)ifindex;
    return setsockopt(fd, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &request, sizeof(request));
}

ssize_t cps_send(int fd, int ifindex, const uint8_t *frame, size_t length) {
    if (length < 14) {
        errno = EINVAL;
        return -1;
    }
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_ifindex = ifindex;
    address.sll_halen = 6;
    memcpy(address.sll_addr, frame, 6);
    return sendto(fd, frame, length, 0, (struct sockaddr *)&address, sizeof(address));
}

ssize_t cps_receive(int fd, uint8_t *buffer, size_t capacity, int *pkttype, int wait) {
    struct sockaddr_ll address;
    socklen_t address_length = sizeof(address);
    ssize_t n = recvfrom(fd, buffer, capacity, (wait ? 0 : MSG_DONTWAIT) | MSG_TRUNC, (struct sockaddr *)&address, &address_length);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    if (pkttype) *pkttype = address.sll_pkttype;
    // MSG_TRUNC reports the real length; never claim more than the buffer holds.
    return n > (ssize_t)capacity ? (ssize_t)capacity : n;
}

int cps_set_receive_timeout(int fd, int timeout_ms) {
    struct timeval timeout = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
}

int cps_link_address(const struct sockaddr *address, uint8_t mac[6]) {
    if (address == NULL || address->sa_family != AF_PACKET) return 0;
    const struct sockaddr_ll *link = (const struct sockaddr_ll *)address;
    if (link->sll_halen != 6) return 0;
    memcpy(mac, link->sll_addr, 6);
    return 1;
}

#include <pthread.h>

int cps_name_current_thread(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof(truncated) - 1);
    truncated[sizeof(truncated) - 1] = 0;
    return pthread_setname_np(pthread_self(), truncated);
}
