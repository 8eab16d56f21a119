/*
 * loadgen: a cheap Engine.IO v4 / Socket.IO v5 load generator (WebSocket and long-polling).
 *
 * One process, one thread, epoll, non-blocking sockets, many connections.  Receivers never
 * parse JSON: they look at the packet prefix ("2" ping, "42" event, "43<id>" ack, ...) and,
 * where a scenario needs ordering, at a fixed-width sequence number at a known offset.
 * Client frames are masked with a fixed non-zero key (a cheap XOR loop that gcc vectorizes).
 *
 * The server app every scenario expects (the same in every server under test):
 *   "echo" (data) -> ack(data)                      42<id>["echo","..."]  ->  43<id>["..."]
 *   "join" (room) -> socket.join(room); ack(true)
 *   "bcast"(room, data) -> io.to(room).emit("m", data)   receivers see 42["m","<seq:8>..."]
 *   "bin"  (bytes) -> ack(bytes)                     binary event with one attachment
 *   "all"  (data) -> io.emit("m", data)             to every client of the cluster
 *
 * Scenarios: connect, hold, echo, binary, broadcast, rooms, polling.  Results are one JSON
 * object on stdout; progress lines ({"phase": ...}) come before it.
 *
 * hold, for runs spread over several load generators (bench/scale.py):
 *   --source 127.0.0.X  connect from that loopback address (the ephemeral ports, about 28k,
 *                       are per source address);
 *   --control           read commands on stdin; the first client sends them:
 *                         "b N"       N emits of "all", numbered (seq) from 0 on;
 *                         "r N ROOM"  N emits of "bcast" to ROOM (not numbered);
 *                       each prints {"phase":"sent",...} with the CLOCK_MONOTONIC time;
 *   every load generator prints {"phase":"got","seq":S,...} once each of its live clients
 *   has "all" message S (with the CLOCK_MONOTONIC times of the first and the last), and
 *   {"phase":"drop",...} when the server closes clients (at most once a second).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_HTTP, ST_WAIT_OPEN, ST_WAIT_SIO, ST_READY, ST_CLOSED };
enum { SC_CONNECT, SC_HOLD, SC_ECHO, SC_BINARY, SC_BROADCAST, SC_ROOMS, SC_POLLING };

#define RBUF_SIZE (1 << 20)
#define MAX_TRACKED 4096 /* "all" broadcasts followed per sequence number (hold) */
#define SEQ_OFF 8 /* strlen("42[\"m\",\"") */

typedef struct {
    char *p;
    size_t len, cap, off;
} buf_t;

typedef struct conn conn_t;
struct conn {
    int fd;
    int idx;
    uint8_t state;
    uint8_t controller;
    uint8_t dirty;
    uint8_t want_out;
    uint8_t polling_post; /* this fd is the POST side of a polling client */
    uint8_t post_busy;    /* POST in flight */
    uint8_t get_busy;     /* GET in flight */
    uint8_t joined;
    buf_t in;   /* unparsed input kept between reads */
    buf_t out;  /* queued output */
    buf_t frag; /* fragmented WebSocket message */
    uint8_t fragop;
    int room;
    int64_t last_seq;
    uint64_t got;
    uint64_t pings;
    uint32_t gen;
    double *sent; /* per in-flight slot: send time */
    int expect_attach;
    uint32_t attach_id;
    conn_t *peer; /* polling: GET conn <-> POST conn */
    buf_t pending_post; /* polling: packets waiting for the POST connection */
    char sid[64];
};

/* ---- options ---- */
static const char *o_host = "127.0.0.1";
static int o_port = 0;
static const char *o_path = "/socket.io/";
static int o_scenario = SC_ECHO;
static int o_clients = 10;
static int o_inflight = 10;
static double o_duration = 5.0;
static double o_warmup = 1.0;
static int o_rooms = 1;
static int o_emits = 100;
static int o_payload = 32;
static int o_concurrency = 128;
static double o_hold = 0.0;
static int o_binsize = 65536;
static double o_timeout = 30.0;
static unsigned o_seed = 1;

/* ---- state ---- */
static int ep;
static conn_t *conns;
static int nconns;
static conn_t **dirty;
static int ndirty;
static char *rbuf;
static struct sockaddr_in addr;
static volatile sig_atomic_t stop_flag;
static int opened, inprogress, ready, failed, dropped, closed_by_server;
static double t_start, t_ready, t_measure_start, t_measure_end;
static int measuring, stopping, finished;
static uint64_t acks, acks_total, bytes_echoed, deliveries, order_errors, bad_frames;
static uint32_t *lat;
static size_t nlat, latcap;
static char *payload;
static char *binpayload;
static conn_t *controller;
static int joined_count;
static uint64_t round_expected, round_got, rounds_done, emits_sent;
static double round_started, bcast_time;
static uint64_t *room_expected; /* per room: messages that should have arrived */
static int *room_size;
static int64_t seq_next;
static char hostport[128];
static int o_port2 = 0;
static struct sockaddr_in addr2;
static const char *o_source = NULL;
static struct sockaddr_in source_addr;
static int o_control = 0;
static int stdin_token; /* its address marks stdin in epoll */
static char ctl_buf[4096];
static size_t ctl_len;
static uint32_t *seq_got;     /* hold: clients that have "all" message S */
static double *seq_first;     /* hold: when the first of them got it */
static int64_t hold_seq_next; /* hold, --control: the next "all" sequence number */
static int dropped_printed;
static double drop_printed_at;
static double cpu_measure_start, cpu_measure_end;

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *msg) {
    fprintf(stderr, "loadgen: %s: %s\n", msg, strerror(errno));
    exit(2);
}

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    if (b->off > 0 && b->len - b->off + extra <= b->cap) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("realloc");
    b->cap = cap;
}

static void buf_append(buf_t *b, const void *data, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = b->off = 0;
}

static void mark_dirty(conn_t *c) {
    if (!c->dirty) {
        c->dirty = 1;
        dirty[ndirty++] = c;
    }
}

/* A masked client frame. The key is fixed (not random, as RFC 6455 asks of browsers) but
 * non-zero, so no server can skip its unmasking work. */
static const uint8_t MASK_KEY[4] = {0x5a, 0xc3, 0x17, 0x8e};

static void ws_send(conn_t *c, int opcode, const char *data, size_t n) {
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = 0x80 | (uint8_t)opcode;
    if (n < 126) {
        h[hl++] = 0x80 | (uint8_t)n;
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    memcpy(h + hl, MASK_KEY, 4);
    hl += 4;
    buf_append(&c->out, h, hl);
    buf_reserve(&c->out, n);
    uint8_t *dst = (uint8_t *)c->out.p + c->out.len;
    const uint8_t *src = (const uint8_t *)data;
    for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ MASK_KEY[i & 3];
    c->out.len += n;
    mark_dirty(c);
}

static void ws_text(conn_t *c, const char *s, size_t n) { ws_send(c, 1, s, n); }

static void set_out_interest(conn_t *c, int want) {
    if (c->want_out == want || c->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = (uint8_t)want;
}

static void conn_close(conn_t *c, int by_server);

static void flush(conn_t *c) {
    while (c->out.off < c->out.len) {
        ssize_t w = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out_interest(c, 1);
                return;
            }
            conn_close(c, 1);
            return;
        }
        c->out.off += (size_t)w;
    }
    c->out.off = c->out.len = 0;
    if (c->out.cap > (1 << 20)) buf_free(&c->out);
    set_out_interest(c, 0);
}

static void flush_dirty(void) {
    for (int i = 0; i < ndirty; i++) {
        conn_t *c = dirty[i];
        c->dirty = 0;
        if (c->state != ST_CLOSED && c->state != ST_CONNECTING) flush(c);
    }
    ndirty = 0;
}

static void record_latency(double sent) {
    if (!measuring) return;
    if (nlat == latcap) {
        latcap = latcap ? latcap * 2 : 1 << 16;
        lat = realloc(lat, latcap * sizeof(uint32_t));
        if (!lat) die("realloc");
    }
    double us = (now() - sent) * 1e6;
    lat[nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

/* ---- connection setup ---- */

static void conn_open(conn_t *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o_source) {
        /* the port is chosen at connect(), per destination: no 28k limit per source */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&source_addr, sizeof source_addr) < 0) die("bind");
    }
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->last_seq = -1;
    struct sockaddr_in *a = (o_port2 && !c->controller && (c->idx % 2) == 1) ? &addr2 : &addr;
    int r = connect(fd, (struct sockaddr *)a, sizeof *a);
    if (r < 0 && errno != EINPROGRESS) die("connect");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->want_out = 1;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void send_upgrade(conn_t *c) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o_path, hostport);
    buf_append(&c->out, req, (size_t)n);
    c->state = ST_HTTP;
    mark_dirty(c);
}

static void poll_get(conn_t *c) {
    char req[512];
    int n;
    if (c->sid[0])
        n = snprintf(req, sizeof req,
                     "GET %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n\r\n", o_path,
                     c->sid, hostport);
    else
        n = snprintf(req, sizeof req, "GET %s?EIO=4&transport=polling HTTP/1.1\r\nHost: %s\r\n\r\n",
                     o_path, hostport);
    buf_append(&c->out, req, (size_t)n);
    c->get_busy = 1;
    mark_dirty(c);
}

/* polling: send queued packets on the POST connection if it is idle */
static void poll_post_flush(conn_t *g) {
    conn_t *p = g->peer;
    if (!p || p->state != ST_READY || p->post_busy || g->pending_post.len == 0) return;
    char hdr[512];
    size_t blen = g->pending_post.len - g->pending_post.off;
    int n = snprintf(hdr, sizeof hdr,
                     "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                     o_path, g->sid, hostport, blen);
    buf_append(&p->out, hdr, (size_t)n);
    buf_append(&p->out, g->pending_post.p + g->pending_post.off, blen);
    g->pending_post.len = g->pending_post.off = 0;
    p->post_busy = 1;
    mark_dirty(p);
}

static void poll_queue(conn_t *g, const char *pkt, size_t n) {
    if (g->pending_post.len > g->pending_post.off) buf_append(&g->pending_post, "\x1e", 1);
    buf_append(&g->pending_post, pkt, n);
    poll_post_flush(g);
}

static void send_packet(conn_t *c, const char *s, size_t n) {
    if (o_scenario == SC_POLLING)
        poll_queue(c, s, n);
    else
        ws_text(c, s, n);
}

/* ---- scenario actions ---- */

static void send_echo(conn_t *c, int slot) {
    char msg[256];
    uint32_t id = c->gen * (uint32_t)o_inflight + (uint32_t)slot;
    int n = snprintf(msg, sizeof msg, "42%u[\"echo\",\"%s\"]", id, payload);
    c->sent[slot] = now();
    send_packet(c, msg, (size_t)n);
}

static void send_bin(conn_t *c, int slot) {
    char msg[128];
    uint32_t id = c->gen * (uint32_t)o_inflight + (uint32_t)slot;
    int n = snprintf(msg, sizeof msg, "451-%u[\"bin\",{\"_placeholder\":true,\"num\":0}]", id);
    c->sent[slot] = now();
    ws_text(c, msg, (size_t)n);
    ws_send(c, 2, binpayload, (size_t)o_binsize);
}

static void start_load(void) {
    t_measure_start = now() + o_warmup;
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        if (c->state != ST_READY || c->polling_post) continue;
        c->sent = calloc((size_t)o_inflight, sizeof(double));
        for (int s = 0; s < o_inflight; s++) {
            if (o_scenario == SC_BINARY)
                send_bin(c, s);
            else
                send_echo(c, s);
        }
    }
}

static void start_round(void) {
    char msg[256];
    round_expected = 0;
    round_got = 0;
    round_started = now();
    for (int i = 0; i < o_emits; i++) {
        int room = o_rooms == 1 ? 0 : rand() % o_rooms;
        room_expected[room]++;
        round_expected += (uint64_t)room_size[room];
        int n = snprintf(msg, sizeof msg, "42[\"bcast\",\"r%d\",\"%08lld", room, (long long)seq_next++);
        int pad = o_payload - 8;
        if (pad < 0) pad = 0;
        memcpy(msg + n, payload, (size_t)pad);
        n += pad;
        memcpy(msg + n, "\"]", 2);
        n += 2;
        ws_text(controller, msg, (size_t)n);
        emits_sent++;
    }
}

/* hold, --control: one command line from stdin, sent by the first ready client */
static void control_command(const char *line) {
    char room[64];
    int count = 0;
    conn_t *c = NULL;
    for (int i = 0; i < nconns && !c; i++)
        if (conns[i].state == ST_READY) c = &conns[i];
    if (!c) {
        printf("{\"phase\":\"error\",\"error\":\"no ready client for a command\"}\n");
        fflush(stdout);
        return;
    }
    char msg[512];
    int pad = o_payload - 8;
    if (sscanf(line, "b %d", &count) == 1 && count > 0) {
        printf("{\"phase\":\"sent\",\"event\":\"all\",\"seq\":%lld,\"count\":%d,"
               "\"t\":%.6f}\n",
               (long long)hold_seq_next, count, now());
        fflush(stdout);
        for (int i = 0; i < count; i++) {
            int n = snprintf(msg, sizeof msg, "42[\"all\",\"%08lld", (long long)hold_seq_next++);
            memcpy(msg + n, payload, (size_t)pad);
            n += pad;
            memcpy(msg + n, "\"]", 2);
            ws_text(c, msg, (size_t)n + 2);
            emits_sent++;
        }
    } else if (sscanf(line, "r %d %63s", &count, room) == 2 && count > 0) {
        printf("{\"phase\":\"sent\",\"event\":\"bcast\",\"room\":\"%s\",\"count\":%d,"
               "\"t\":%.6f}\n",
               room, count, now());
        fflush(stdout);
        for (int i = 0; i < count; i++) {
            int n = snprintf(msg, sizeof msg, "42[\"bcast\",\"%s\",\"%08d", room, i);
            memcpy(msg + n, payload, (size_t)pad);
            n += pad;
            memcpy(msg + n, "\"]", 2);
            ws_text(c, msg, (size_t)n + 2);
            emits_sent++;
        }
    } else {
        printf("{\"phase\":\"error\",\"error\":\"bad command\"}\n");
        fflush(stdout);
    }
}

static void on_stdin(void) {
    ssize_t r = read(0, ctl_buf + ctl_len, sizeof ctl_buf - 1 - ctl_len);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
        return;
    }
    ctl_len += (size_t)r;
    ctl_buf[ctl_len] = 0;
    char *start = ctl_buf, *nl;
    while ((nl = strchr(start, '\n')) != NULL) {
        *nl = 0;
        if (t_ready) control_command(start);
        start = nl + 1;
    }
    ctl_len -= (size_t)(start - ctl_buf);
    memmove(ctl_buf, start, ctl_len);
    if (ctl_len == sizeof ctl_buf - 1) ctl_len = 0; /* a line too long: drop it */
}

static int receivers_count(void) { return o_clients; }

static int expected_ready(void) { return o_clients + (controller ? 1 : 0); }

static void on_all_ready(void) {
    t_ready = now();
    printf("{\"phase\":\"ready\",\"clients\":%d,\"failed\":%d,\"elapsed\":%.4f}\n", ready, failed,
           t_ready - t_start);
    fflush(stdout);
    if (o_scenario == SC_ECHO || o_scenario == SC_BINARY || o_scenario == SC_POLLING) {
        start_load();
    } else if (o_scenario == SC_BROADCAST || o_scenario == SC_ROOMS) {
        char msg[64];
        for (int i = 0; i < nconns; i++) {
            conn_t *c = &conns[i];
            if (c->controller || c->state != ST_READY) continue;
            int n = snprintf(msg, sizeof msg, "42%d[\"join\",\"r%d\"]", i, c->room);
            ws_text(c, msg, (size_t)n);
        }
    }
}

static void on_ready(conn_t *c) {
    c->state = ST_READY;
    ready++;
    inprogress--;
    if (ready + failed >= expected_ready() && !t_ready) on_all_ready();
}

static void phase_measure(void) {
    printf("{\"phase\":\"measure\",\"elapsed\":%.4f}\n", now() - t_start);
    fflush(stdout);
    cpu_measure_start = cpu_now();
}

static void on_joined(void) {
    joined_count++;
    if (joined_count == receivers_count()) {
        phase_measure();
        t_measure_start = now();
        measuring = 1;
        start_round();
    }
}

/* hold: count the clients that have "all" message seq; say so when all live ones have it */
static void hold_delivery(int64_t seq) {
    if (seq < 0 || seq >= MAX_TRACKED) return;
    double t = now();
    if (seq_got[seq]++ == 0) seq_first[seq] = t;
    if ((int)seq_got[seq] == ready - dropped) {
        printf("{\"phase\":\"got\",\"seq\":%lld,\"clients\":%u,\"first\":%.6f,"
               "\"last\":%.6f}\n",
               (long long)seq, seq_got[seq], seq_first[seq], t);
        fflush(stdout);
    }
}

static void on_delivery(conn_t *c, const char *s, size_t n) {
    if (n < SEQ_OFF + 8 || memcmp(s, "42[\"m\",\"", SEQ_OFF) != 0) {
        bad_frames++;
        return;
    }
    int64_t seq = 0;
    for (int i = 0; i < 8; i++) {
        char ch = s[SEQ_OFF + i];
        if (ch < '0' || ch > '9') {
            bad_frames++;
            return;
        }
        seq = seq * 10 + (ch - '0');
    }
    if (o_rooms == 1 ? seq != c->last_seq + 1 : seq <= c->last_seq) order_errors++;
    c->last_seq = seq;
    c->got++;
    deliveries++;
    if (o_scenario == SC_HOLD) {
        hold_delivery(seq);
        return;
    }
    round_got++;
    if (round_got == round_expected) {
        rounds_done++;
        double t = now();
        if (t - t_measure_start >= o_duration || stop_flag) {
            bcast_time = t - t_measure_start;
            finished = 1;
        } else {
            start_round();
        }
    }
}

static uint32_t parse_uint(const char *s, size_t n, size_t *pos) {
    uint32_t v = 0;
    while (*pos < n && s[*pos] >= '0' && s[*pos] <= '9') v = v * 10 + (uint32_t)(s[(*pos)++] - '0');
    return v;
}

static void complete_ack(conn_t *c, uint32_t id, size_t nbytes) {
    int slot = (int)(id % (uint32_t)o_inflight);
    if (!c->sent) return;
    if (measuring) {
        acks++;
        bytes_echoed += nbytes;
    }
    acks_total++;
    record_latency(c->sent[slot]);
    if (stopping) return;
    c->gen++;
    if (o_scenario == SC_BINARY)
        send_bin(c, slot);
    else
        send_echo(c, slot);
}

/* One Engine.IO packet (text), as received. */
static void on_eio_packet(conn_t *c, const char *s, size_t n) {
    if (n == 0) {
        bad_frames++;
        return;
    }
    switch (s[0]) {
    case '0':
        if (c->state == ST_WAIT_OPEN) {
            if (o_scenario == SC_POLLING) {
                const char *p = memmem(s, n, "\"sid\":\"", 7);
                if (p) {
                    p += 7;
                    size_t i = 0;
                    while (p + i < s + n && p[i] != '"' && i < sizeof c->sid - 1) {
                        c->sid[i] = p[i];
                        i++;
                    }
                    c->sid[i] = 0;
                }
            }
            c->state = ST_WAIT_SIO;
            send_packet(c, "40", 2);
        }
        return;
    case '1':
        conn_close(c, 1);
        return;
    case '2':
        c->pings++;
        send_packet(c, "3", 1);
        return;
    case '6':
        return;
    case '4':
        break;
    default:
        bad_frames++;
        return;
    }
    if (n < 2) {
        bad_frames++;
        return;
    }
    switch (s[1]) {
    case '0':
        if (c->state == ST_WAIT_SIO) on_ready(c);
        return;
    case '1':
        conn_close(c, 1);
        return;
    case '2':
        on_delivery(c, s, n);
        return;
    case '3': {
        size_t pos = 2;
        uint32_t id = parse_uint(s, n, &pos);
        if (o_scenario == SC_BROADCAST || o_scenario == SC_ROOMS) {
            if (!c->joined) {
                c->joined = 1;
                on_joined();
            }
            return;
        }
        complete_ack(c, id, (size_t)o_payload);
        return;
    }
    case '4':
        failed++;
        conn_close(c, 0);
        return;
    case '6': {
        size_t pos = 2;
        parse_uint(s, n, &pos);
        if (pos < n && s[pos] == '-') pos++;
        c->attach_id = parse_uint(s, n, &pos);
        c->expect_attach = 1;
        return;
    }
    default:
        bad_frames++;
    }
}

static void on_ws_message(conn_t *c, int op, const char *s, size_t n) {
    if (op == 1) {
        on_eio_packet(c, s, n);
    } else if (op == 2) {
        if (c->expect_attach) {
            c->expect_attach = 0;
            complete_ack(c, c->attach_id, n);
        } else {
            bad_frames++;
        }
    }
}

/* Parse WebSocket frames from s[0..n); returns bytes consumed. */
static size_t ws_parse(conn_t *c, const char *s, size_t n) {
    size_t pos = 0;
    while (c->state != ST_CLOSED) {
        if (n - pos < 2) break;
        const uint8_t *h = (const uint8_t *)s + pos;
        int fin = h[0] & 0x80, op = h[0] & 0x0f;
        uint64_t len = h[1] & 0x7f;
        size_t hl = 2;
        if (h[1] & 0x80) { /* servers never mask; treat as error */
            bad_frames++;
            conn_close(c, 1);
            break;
        }
        if (len == 126) {
            if (n - pos < 4) break;
            len = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (len == 127) {
            if (n - pos < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (n - pos < hl + len) break;
        const char *pl = s + pos + hl;
        pos += hl + (size_t)len;
        if (op == 8) {
            conn_close(c, 1);
            break;
        } else if (op == 9) {
            ws_send(c, 10, pl, (size_t)len);
        } else if (op == 10) {
            /* pong: ignore */
        } else if (op == 0) {
            buf_append(&c->frag, pl, (size_t)len);
            if (fin) {
                on_ws_message(c, c->fragop, c->frag.p, c->frag.len);
                c->frag.len = 0;
            }
        } else if (!fin) {
            c->fragop = (uint8_t)op;
            c->frag.len = 0;
            buf_append(&c->frag, pl, (size_t)len);
        } else {
            on_ws_message(c, op, pl, (size_t)len);
        }
    }
    return pos;
}

/* Find the end of HTTP headers; returns header length or 0. */
static size_t http_header_end(const char *s, size_t n) {
    const char *e = memmem(s, n, "\r\n\r\n", 4);
    return e ? (size_t)(e - s) + 4 : 0;
}

static int header_value(const char *h, size_t hn, const char *name, char *out, size_t outn) {
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl < hn; i++) {
        if ((i == 0 || h[i - 1] == '\n') && strncasecmp(h + i, name, nl) == 0 && h[i + nl] == ':') {
            size_t j = i + nl + 1;
            while (j < hn && h[j] == ' ') j++;
            size_t k = 0;
            while (j < hn && h[j] != '\r' && k < outn - 1) out[k++] = h[j++];
            out[k] = 0;
            return 1;
        }
    }
    return 0;
}

/* Parse one HTTP response; returns bytes consumed, 0 if incomplete. Body in body and blen
 * (decoded from chunked into c->frag if needed). */
static size_t http_response(conn_t *c, const char *s, size_t n, int *status, const char **body,
                            size_t *blen) {
    size_t he = http_header_end(s, n);
    if (!he) return 0;
    *status = (n > 12) ? atoi(s + 9) : 0;
    char v[64];
    if (header_value(s, he, "content-length", v, sizeof v)) {
        size_t cl = (size_t)strtoull(v, NULL, 10);
        if (n - he < cl) return 0;
        *body = s + he;
        *blen = cl;
        return he + cl;
    }
    if (header_value(s, he, "transfer-encoding", v, sizeof v) && strcasestr(v, "chunked")) {
        size_t pos = he;
        c->frag.len = 0;
        for (;;) {
            const char *e = memmem(s + pos, n - pos, "\r\n", 2);
            if (!e) return 0;
            size_t sz = (size_t)strtoull(s + pos, NULL, 16);
            size_t data = (size_t)(e - s) + 2;
            if (sz == 0) {
                if (n - data < 2) return 0;
                /* no trailers expected */
                *body = c->frag.p ? c->frag.p : "";
                *blen = c->frag.len;
                return data + 2;
            }
            if (n - data < sz + 2) return 0;
            buf_append(&c->frag, s + data, sz);
            pos = data + sz + 2;
        }
    }
    *body = s + he;
    *blen = 0;
    return he;
}

static void open_post_conn(conn_t *g);

/* polling: a GET answered with a payload of packets separated by 0x1e */
static void on_poll_payload(conn_t *c, const char *b, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || b[i] == 0x1e) {
            if (i > start) on_eio_packet(c, b + start, i - start);
            if (c->state == ST_CLOSED) return;
            start = i + 1;
        }
    }
}

static size_t poll_parse(conn_t *c, const char *s, size_t n) {
    size_t pos = 0;
    while (c->state != ST_CLOSED && pos < n) {
        int status;
        const char *body;
        size_t blen;
        size_t used = http_response(c, s + pos, n - pos, &status, &body, &blen);
        if (!used) break;
        pos += used;
        if (status != 200) {
            fprintf(stderr, "loadgen: polling HTTP %d: %.*s\n", status, (int)blen, body);
            conn_close(c->polling_post ? c->peer : c, 1);
            break;
        }
        if (c->polling_post) {
            c->post_busy = 0;
            poll_post_flush(c->peer);
            continue;
        }
        c->get_busy = 0;
        int was_open = c->state == ST_WAIT_OPEN;
        on_poll_payload(c, body, blen);
        if (c->state == ST_CLOSED) break;
        if (was_open && c->state == ST_WAIT_SIO) open_post_conn(c);
        if (!c->get_busy) poll_get(c);
    }
    return pos;
}

static void open_post_conn(conn_t *g) {
    conn_t *p = g->peer;
    conn_open(p);
}

static void on_connected(conn_t *c) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        errno = err;
        fprintf(stderr, "loadgen: connect failed: %s\n", strerror(err));
        if (!c->polling_post) {
            failed++;
            inprogress--;
        }
        conn_close(c, 0);
        return;
    }
    if (o_scenario == SC_POLLING) {
        if (c->polling_post) {
            c->state = ST_READY;
            set_out_interest(c, 0);
            poll_post_flush(c->peer);
        } else {
            c->state = ST_WAIT_OPEN;
            set_out_interest(c, 0);
            poll_get(c);
        }
    } else {
        set_out_interest(c, 0);
        send_upgrade(c);
    }
}

static size_t process(conn_t *c, const char *s, size_t n) {
    if (o_scenario == SC_POLLING) return poll_parse(c, s, n);
    size_t pos = 0;
    if (c->state == ST_HTTP) {
        size_t he = http_header_end(s, n);
        if (!he) return 0;
        if (n < 12 || memcmp(s + 9, "101", 3) != 0) {
            fprintf(stderr, "loadgen: upgrade refused: %.*s\n", (int)(n < 200 ? n : 200), s);
            failed++;
            inprogress--;
            conn_close(c, 0);
            return n;
        }
        c->state = ST_WAIT_OPEN;
        pos = he;
    }
    return pos + ws_parse(c, s + pos, n - pos);
}

static void on_readable(conn_t *c) {
    ssize_t r = read(c->fd, rbuf, RBUF_SIZE);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c, 1);
        return;
    }
    if (r < 0) return;
    if (c->in.len == c->in.off) {
        size_t used = process(c, rbuf, (size_t)r);
        if (c->state != ST_CLOSED && used < (size_t)r) {
            c->in.len = c->in.off = 0;
            buf_append(&c->in, rbuf + used, (size_t)r - used);
        }
    } else {
        buf_append(&c->in, rbuf, (size_t)r);
        size_t used = process(c, c->in.p + c->in.off, c->in.len - c->in.off);
        if (c->state == ST_CLOSED) return;
        c->in.off += used;
        if (c->in.off == c->in.len) {
            if (c->in.cap > 65536)
                buf_free(&c->in);
            else
                c->in.off = c->in.len = 0;
        }
    }
}

static void conn_close(conn_t *c, int by_server) {
    if (c->state == ST_CLOSED) return;
    int was_ready = c->state == ST_READY;
    int before = c->state;
    c->state = ST_CLOSED;
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (by_server && !stopping && !stop_flag) {
        if (was_ready && !c->polling_post) {
            dropped++;
            closed_by_server++;
        } else if (before != ST_READY && !c->polling_post) {
            if (failed < 5) fprintf(stderr, "loadgen: connection closed during the handshake\n");
            failed++;
            inprogress--;
        }
    }
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->frag);
    if (c->peer && c->peer->state != ST_CLOSED) conn_close(c->peer, 0);
    if (!t_ready && ready + failed >= expected_ready()) on_all_ready();
}

static void on_sig(int s) {
    (void)s;
    stop_flag = 1;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static const char *scenario_name(void) {
    static const char *names[] = {"connect", "hold", "echo", "binary", "broadcast", "rooms", "polling"};
    return names[o_scenario];
}

static void report(void) {
    double pings = 0;
    uint64_t incomplete = 0;
    for (int i = 0; i < nconns; i++) {
        pings += (double)conns[i].pings;
        if (conns[i].controller || conns[i].polling_post) continue;
        if ((o_scenario == SC_BROADCAST || o_scenario == SC_ROOMS) && conns[i].state != ST_CLOSED &&
            conns[i].got != room_expected[conns[i].room])
            incomplete++;
    }
    double elapsed = t_measure_end - t_measure_start;
    printf("{\"scenario\":\"%s\",\"clients\":%d,\"ready\":%d,\"failed\":%d,\"dropped\":%d,"
           "\"pings\":%.0f,\"bad_frames\":%llu",
           scenario_name(), o_clients, ready - (controller ? 1 : 0), failed, dropped, pings,
           (unsigned long long)bad_frames);
    printf(",\"cpu_seconds\":%.4f,\"cpu_total_seconds\":%.4f", cpu_measure_end - cpu_measure_start,
           cpu_measure_end);
    if (t_ready) printf(",\"connect_seconds\":%.4f,\"handshakes_per_s\":%.1f", t_ready - t_start,
                        (double)ready / (t_ready - t_start));
    if (o_scenario == SC_ECHO || o_scenario == SC_BINARY || o_scenario == SC_POLLING) {
        if (nlat) qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
        double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] : 0;
        printf(",\"seconds\":%.4f,\"acks\":%llu,\"acks_per_s\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f",
               elapsed, (unsigned long long)acks, elapsed > 0 ? (double)acks / elapsed : 0, p50,
               p99);
        if (o_scenario == SC_BINARY)
            printf(",\"bytes\":%llu,\"mb_per_s\":%.2f", (unsigned long long)bytes_echoed,
                   elapsed > 0 ? (double)bytes_echoed / elapsed / 1e6 : 0);
    }
    if (o_scenario == SC_HOLD) {
        uint64_t min_got = UINT64_MAX, max_got = 0;
        for (int i = 0; i < nconns; i++) {
            if (conns[i].state != ST_READY) continue;
            if (conns[i].got < min_got) min_got = conns[i].got;
            if (conns[i].got > max_got) max_got = conns[i].got;
        }
        if (min_got == UINT64_MAX) min_got = 0;
        printf(",\"deliveries\":%llu,\"min_got\":%llu,\"max_got\":%llu,\"order_errors\":%llu,"
               "\"emits\":%llu",
               (unsigned long long)deliveries, (unsigned long long)min_got,
               (unsigned long long)max_got, (unsigned long long)order_errors,
               (unsigned long long)emits_sent);
    }
    if (o_scenario == SC_BROADCAST || o_scenario == SC_ROOMS) {
        double t = bcast_time > 0 ? bcast_time : elapsed;
        printf(",\"seconds\":%.4f,\"emits\":%llu,\"rounds\":%llu,\"deliveries\":%llu,"
               "\"deliveries_per_s\":%.1f,\"order_errors\":%llu,\"incomplete_clients\":%llu,"
               "\"all_delivered\":%s",
               t, (unsigned long long)emits_sent, (unsigned long long)rounds_done,
               (unsigned long long)deliveries, t > 0 ? (double)deliveries / t : 0,
               (unsigned long long)order_errors, (unsigned long long)incomplete,
               (finished && !incomplete && !order_errors) ? "true" : "false");
    }
    printf("}\n");
    fflush(stdout);
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port N [--host H] [--path P] --scenario "
            "connect|hold|echo|binary|broadcast|rooms|polling\n"
            "  [--clients N] [--inflight K] [--duration S] [--warmup S] [--rooms R] [--emits M]\n"
            "  [--payload BYTES] [--binsize BYTES] [--concurrency N] [--hold S (-1: until "
            "SIGUSR1)] [--timeout S] [--seed N] [--port2 N (odd clients go there)]\n"
            "  [--source IP (bind clients to it)] [--control (hold: commands on stdin)]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static struct option opts[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},        {"path", 1, 0, 'P'},
        {"scenario", 1, 0, 's'}, {"clients", 1, 0, 'c'},     {"inflight", 1, 0, 'k'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'},      {"rooms", 1, 0, 'r'},
        {"emits", 1, 0, 'm'},    {"payload", 1, 0, 'b'},     {"binsize", 1, 0, 'B'},
        {"concurrency", 1, 0, 'C'}, {"hold", 1, 0, 'H'},     {"timeout", 1, 0, 't'},
        {"seed", 1, 0, 'S'},     {"port2", 1, 0, 'q'},       {"source", 1, 0, 'A'},
        {"control", 0, 0, 'K'},  {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': o_host = optarg; break;
        case 'p': o_port = atoi(optarg); break;
        case 'P': o_path = optarg; break;
        case 's': {
            const char *names[] = {"connect", "hold", "echo", "binary", "broadcast", "rooms", "polling"};
            o_scenario = -1;
            for (int i = 0; i < 7; i++)
                if (strcmp(optarg, names[i]) == 0) o_scenario = i;
            if (o_scenario < 0) usage();
            break;
        }
        case 'c': o_clients = atoi(optarg); break;
        case 'k': o_inflight = atoi(optarg); break;
        case 'd': o_duration = atof(optarg); break;
        case 'w': o_warmup = atof(optarg); break;
        case 'r': o_rooms = atoi(optarg); break;
        case 'm': o_emits = atoi(optarg); break;
        case 'b': o_payload = atoi(optarg); break;
        case 'B': o_binsize = atoi(optarg); break;
        case 'C': o_concurrency = atoi(optarg); break;
        case 'H': o_hold = atof(optarg); break;
        case 't': o_timeout = atof(optarg); break;
        case 'S': o_seed = (unsigned)atoi(optarg); break;
        case 'q': o_port2 = atoi(optarg); break;
        case 'A': o_source = optarg; break;
        case 'K': o_control = 1; break;
        default: usage();
        }
    }
    if (!o_port || o_clients < 1 || o_inflight < 1 || o_rooms < 1 || o_payload < 8 || o_payload > 200)
        usage();
    if (o_scenario == SC_BROADCAST) o_rooms = 1;
    srand(o_seed);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    snprintf(hostport, sizeof hostport, "%s:%d", o_host, o_port);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o_port);
    if (inet_pton(AF_INET, o_host, &addr.sin_addr) != 1) usage();
    addr2 = addr;
    addr2.sin_port = htons((uint16_t)o_port2);
    if (o_source) {
        memset(&source_addr, 0, sizeof source_addr);
        source_addr.sin_family = AF_INET;
        if (inet_pton(AF_INET, o_source, &source_addr.sin_addr) != 1) usage();
    }
    if (o_control && o_scenario != SC_HOLD) usage();

    payload = malloc((size_t)o_payload + 1);
    for (int i = 0; i < o_payload; i++) payload[i] = (char)('a' + i % 26);
    payload[o_payload] = 0;
    binpayload = malloc((size_t)o_binsize);
    for (int i = 0; i < o_binsize; i++) binpayload[i] = (char)(i * 31);

    int bc = o_scenario == SC_BROADCAST || o_scenario == SC_ROOMS;
    int polling = o_scenario == SC_POLLING;
    nconns = o_clients + (bc ? 1 : 0) + (polling ? o_clients : 0);
    conns = calloc((size_t)nconns, sizeof(conn_t));
    dirty = calloc((size_t)nconns, sizeof(conn_t *));
    rbuf = malloc(RBUF_SIZE);
    room_expected = calloc((size_t)o_rooms, sizeof(uint64_t));
    room_size = calloc((size_t)o_rooms, sizeof(int));
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].idx = i;
        conns[i].state = ST_CLOSED;
        conns[i].last_seq = -1;
    }
    for (int i = 0; i < o_clients; i++) {
        conns[i].room = i % o_rooms;
        room_size[conns[i].room]++;
    }
    if (bc) {
        controller = &conns[o_clients];
        controller->controller = 1;
        controller->joined = 1;
    }
    if (polling) {
        for (int i = 0; i < o_clients; i++) {
            conn_t *g = &conns[i], *p = &conns[o_clients + i];
            g->peer = p;
            p->peer = g;
            p->polling_post = 1;
        }
    }
    ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    if (o_scenario == SC_HOLD) {
        seq_got = calloc(MAX_TRACKED, sizeof *seq_got);
        seq_first = calloc(MAX_TRACKED, sizeof *seq_first);
    }
    if (o_control) {
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &stdin_token};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl stdin");
    }

    int to_open = o_clients + (bc ? 1 : 0); /* polling POST conns are opened on demand */
    struct epoll_event *evs = calloc(4096, sizeof *evs);
    t_start = now();
    double hold_until = 0;
    int report_done = 0;
    for (;;) {
        while (opened < to_open && inprogress < o_concurrency && !stop_flag) {
            int i = opened < o_clients ? opened : o_clients; /* controller last */
            conn_open(&conns[i]);
            opened++;
            inprogress++;
        }
        int n = epoll_wait(ep, evs, 4096, 5);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &stdin_token) {
                on_stdin();
                continue;
            }
            conn_t *c = evs[i].data.ptr;
            if (c->state == ST_CLOSED) continue;
            if (c->state == ST_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
                continue;
            }
            if (evs[i].events & EPOLLIN) on_readable(c);
            else if (evs[i].events & (EPOLLERR | EPOLLHUP)) conn_close(c, 1);
            if (c->state != ST_CLOSED && (evs[i].events & EPOLLOUT) && !c->dirty) flush(c);
        }
        flush_dirty();

        double t = now();
        if (o_scenario == SC_HOLD && dropped != dropped_printed && t - drop_printed_at >= 1.0) {
            dropped_printed = dropped;
            drop_printed_at = t;
            printf("{\"phase\":\"drop\",\"dropped\":%d,\"t\":%.6f}\n", dropped, t);
            fflush(stdout);
        }
        int is_load = o_scenario == SC_ECHO || o_scenario == SC_BINARY || o_scenario == SC_POLLING;
        if (is_load && t_ready && !measuring && !stopping && t >= t_measure_start) {
            measuring = 1;
            phase_measure();
            acks = 0;
            bytes_echoed = 0;
            nlat = 0;
        }
        if (is_load && measuring && (t >= t_measure_start + o_duration || stop_flag)) {
            measuring = 0;
            stopping = 1;
            t_measure_end = t;
            finished = 1;
        }
        if ((o_scenario == SC_CONNECT || o_scenario == SC_HOLD) && t_ready && !finished) {
            if (!hold_until) hold_until = t_ready + (o_hold < 0 ? 1e12 : o_hold);
            if (t >= hold_until || stop_flag) {
                finished = 1;
                t_measure_end = t;
            }
        }
        if (bc && finished && !t_measure_end) t_measure_end = t;
        int hold_sc = o_scenario == SC_CONNECT || o_scenario == SC_HOLD;
        if (!finished && t - t_start > o_timeout && !(hold_sc && t_ready)) {
            fprintf(stderr, "loadgen: timeout (ready=%d failed=%d deliveries=%llu)\n", ready,
                    failed, (unsigned long long)deliveries);
            finished = 1;
            t_measure_end = t;
            if (bc && !bcast_time) bcast_time = t - t_measure_start;
        }
        if (stop_flag && !t_ready) {
            finished = 1;
            t_measure_end = t;
        }
        if (finished && !report_done) {
            report_done = 1;
            cpu_measure_end = cpu_now();
            stopping = 1;
            report();
            break;
        }
    }
    return (failed || dropped) ? 1 : 0;
}
