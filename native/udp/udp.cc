// meridian's UDP socket layer (issue #19): an N-API addon, Linux only.
//
// node:dgram costs one recvmsg, one sendmsg and one JS callback per datagram, and cannot read
// the address a datagram was sent to. This socket reads up to `batch` datagrams with one
// recvmmsg, hands them to JS in one call (the datagrams in `rx`, one slot each, described in
// `meta`), and sends the answers JS wrote into `tx` with one sendmmsg, each from the address its
// query was sent to (IP_PKTINFO / IPV6_PKTINFO), so a wildcard-bound socket answers correctly
// on a host with many addresses.
//
// Layout shared with JS (src/server/native-udp.ts), slot i of `batch`:
//   rx[i*slot ..]   the datagram              tx[i*slot ..]   the answer JS wrote
//   meta, int32 i*8+0  datagram length, -1 when it did not fit the slot (dropped, counted)
//              i*8+1  answer length JS set (0: no answer); native resets it before each batch
//              i*8+2  source family (4 or 6)      i*8+3  source port
//              i*8+4..7  source address, 16 octets (IPv4: the first 4)
// Buffers are allocated once per socket and reused; the kernel's copies are the only ones
// besides JS writing each answer into its tx slot.
//
// Back-pressure: when sendmmsg meets a full send buffer (EAGAIN), the rest of the batch waits
// for the socket to become writable and nothing is read meanwhile (the kernel's receive
// buffer absorbs the burst, and counts what it drops). Nothing is dropped silently: datagrams
// too long for a slot, answer lengths out of range and failed sends are counted.

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>

namespace {

constexpr int kMeta = 8;        // int32 fields per slot
constexpr int kRounds = 16;     // batches read per readiness event before yielding to the loop
constexpr size_t kCtl = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo));

struct Counters {
  double received = 0;     // datagrams read
  double truncated = 0;    // longer than a slot: dropped
  double sent = 0;         // answers the kernel took
  double sendErrors = 0;   // answers the kernel refused (other than EAGAIN): dropped
  double sendWaits = 0;    // times a batch waited for writability
  double badLengths = 0;   // answer lengths JS set out of range: not sent
  double recvErrors = 0;   // recvmmsg failures other than EAGAIN
  double batches = 0;      // recvmmsg calls that returned datagrams
};

// Where a datagram was sent to, as read from its control message.
struct Dest {
  int kind;  // 0: none, 4: in_pktinfo, 6: in6_pktinfo
  in_pktinfo v4;
  in6_pktinfo v6;
};

struct Sock {
  napi_env env = nullptr;
  int fd = -1;
  int family = AF_INET;
  unsigned batch = 0, slot = 0;
  uv_poll_t poll;
  bool polling = false, closing = false, closed = false, finalized = false;
  uint8_t* rx = nullptr;
  uint8_t* tx = nullptr;
  int32_t* meta = nullptr;
  napi_ref rxRef = nullptr, txRef = nullptr, metaRef = nullptr, cbRef = nullptr, selfRef = nullptr;
  napi_async_context ctx = nullptr;
  mmsghdr* rmsg = nullptr;
  mmsghdr* smsg = nullptr;
  iovec* riov = nullptr;
  iovec* siov = nullptr;
  sockaddr_storage* peer = nullptr;
  uint8_t* rctl = nullptr;
  uint8_t* sctl = nullptr;
  Dest* dest = nullptr;
  unsigned pendingFrom = 0, pendingTo = 0;  // smsg[from, to) still to send after EAGAIN
  Counters n;
};

napi_value Throw(napi_env env, int err, const char* what) {
  // The error's code is the errno name (EADDRINUSE...), as node's own errors carry.
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, uv_err_name(-err), msg);
  return nullptr;
}

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) {                          \
      napi_throw_error(env, nullptr, "N-API: " #call); \
      return nullptr;                                 \
    }                                                 \
  } while (0)

void FreeSock(Sock* s) {
  delete[] s->rmsg;
  delete[] s->smsg;
  delete[] s->riov;
  delete[] s->siov;
  delete[] s->peer;
  delete[] s->rctl;
  delete[] s->sctl;
  delete[] s->dest;
  delete s;
}

void ReleaseRefs(Sock* s) {
  napi_ref* refs[] = {&s->rxRef, &s->txRef, &s->metaRef, &s->cbRef, &s->selfRef};
  for (napi_ref* r : refs) {
    if (*r != nullptr) napi_delete_reference(s->env, *r);
    *r = nullptr;
  }
  if (s->ctx != nullptr) napi_async_destroy(s->env, s->ctx);
  s->ctx = nullptr;
}

void OnClosed(uv_handle_t* h) {
  Sock* s = static_cast<Sock*>(h->data);
  s->closed = true;
  if (s->finalized) FreeSock(s);
}

// Stops polling and closes the descriptor at once (the port is free when close() returns);
// the memory goes once libuv has let go of the handle and JS of the socket object.
void Shutdown(Sock* s) {
  if (s->closing) return;
  s->closing = true;
  ReleaseRefs(s);
  if (s->polling) {
    // uv_close takes the descriptor out of epoll before it returns.
    uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), OnClosed);
  } else {
    s->closed = true;
  }
  close(s->fd);
  s->fd = -1;
}

// Reads slot i's destination from its control messages.
void ReadDest(Sock* s, unsigned i) {
  Dest& d = s->dest[i];
  d.kind = 0;
  msghdr* m = &s->rmsg[i].msg_hdr;
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      memcpy(&d.v4, CMSG_DATA(c), sizeof d.v4);
      d.kind = 4;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      memcpy(&d.v6, CMSG_DATA(c), sizeof d.v6);
      d.kind = 6;
    }
  }
}

// Describes datagram i in meta.
void Describe(Sock* s, unsigned i) {
  int32_t* m = s->meta + i * kMeta;
  const mmsghdr& h = s->rmsg[i];
  bool cut = (h.msg_hdr.msg_flags & MSG_TRUNC) != 0;
  if (cut) s->n.truncated++;
  m[0] = cut ? -1 : static_cast<int32_t>(h.msg_len);
  m[1] = 0;
  uint8_t* addr = reinterpret_cast<uint8_t*>(m + 4);
  memset(addr, 0, 16);
  const sockaddr_storage& p = s->peer[i];
  if (p.ss_family == AF_INET) {
    const sockaddr_in& a = reinterpret_cast<const sockaddr_in&>(p);
    m[2] = 4;
    m[3] = ntohs(a.sin_port);
    memcpy(addr, &a.sin_addr, 4);
  } else {
    const sockaddr_in6& a = reinterpret_cast<const sockaddr_in6&>(p);
    m[2] = 6;
    m[3] = ntohs(a.sin6_port);
    memcpy(addr, &a.sin6_addr, 16);
  }
  ReadDest(s, i);
}

// Makes `data` the one control message of `m`, written in `ctl` (kCtl octets).
void PutControl(msghdr& m, uint8_t* ctl, int level, int type, const void* data, size_t len) {
  m.msg_control = ctl;
  m.msg_controllen = CMSG_SPACE(len);
  memset(ctl, 0, m.msg_controllen);
  cmsghdr* c = reinterpret_cast<cmsghdr*>(ctl);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
}

// Prepares the answer of slot i as the next message of smsg; false when there is none.
bool PrepareAnswer(Sock* s, unsigned i, unsigned at) {
  int32_t len = s->meta[i * kMeta + 1];
  if (len == 0 || s->meta[i * kMeta] < 0) return false;
  if (len < 0 || static_cast<uint32_t>(len) > s->slot) {
    s->n.badLengths++;
    return false;
  }
  s->siov[at] = {s->tx + static_cast<size_t>(i) * s->slot, static_cast<size_t>(len)};
  msghdr& m = s->smsg[at].msg_hdr;
  m = {};
  m.msg_name = &s->peer[i];
  m.msg_namelen = s->peer[i].ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  m.msg_iov = &s->siov[at];
  m.msg_iovlen = 1;
  const Dest& d = s->dest[i];
  if (d.kind == 0) return true;
  // From the address the query was sent to. IPv4: the source address only, the route picks
  // the interface; IPv6: the interface too, which a link-local address needs.
  uint8_t* ctl = s->sctl + static_cast<size_t>(at) * kCtl;
  if (d.kind == 4) {
    in_pktinfo pi = {};
    pi.ipi_spec_dst = d.v4.ipi_addr;
    PutControl(m, ctl, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
  } else {
    PutControl(m, ctl, IPPROTO_IPV6, IPV6_PKTINFO, &d.v6, sizeof d.v6);
  }
  return true;
}

// Sends smsg[pendingFrom, pendingTo); true when all went (or failed for good), false on EAGAIN.
bool Flush(Sock* s) {
  while (s->pendingFrom < s->pendingTo) {
    int r = sendmmsg(s->fd, s->smsg + s->pendingFrom, s->pendingTo - s->pendingFrom, MSG_DONTWAIT);
    if (r > 0) {
      s->pendingFrom += r;
      s->n.sent += r;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) return false;
    if (r < 0 && errno == EINTR) continue;
    // This message cannot be sent (no route, an address gone): count it and go on.
    s->n.sendErrors++;
    s->pendingFrom++;
  }
  return true;
}

void OnPoll(uv_poll_t* h, int status, int events);

// Waits for writability (true) or goes back to reading.
bool WaitIfPending(Sock* s) {
  if (s->pendingFrom >= s->pendingTo) return false;
  s->n.sendWaits++;
  uv_poll_start(&s->poll, UV_WRITABLE, OnPoll);
  return true;
}

// Hands `count` datagrams to JS; false when JS threw or closed the socket.
bool CallJs(Sock* s, unsigned count) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value cb, self, arg, result;
  bool ok = napi_get_reference_value(env, s->cbRef, &cb) == napi_ok && napi_get_reference_value(env, s->selfRef, &self) == napi_ok &&
            napi_create_uint32(env, count, &arg) == napi_ok;
  // make_callback: runs the microtasks queued by the callback afterwards, as node's own
  // callbacks do, and reports a throw as an uncaught exception.
  napi_status st = ok ? napi_make_callback(env, s->ctx, self, cb, 1, &arg, &result) : napi_generic_failure;
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
  return st == napi_ok && !s->closing;
}

void ReadLoop(Sock* s) {
  for (int round = 0; round < kRounds && !s->closing; round++) {
    for (unsigned i = 0; i < s->batch; i++) {
      msghdr& m = s->rmsg[i].msg_hdr;
      m.msg_name = &s->peer[i];
      m.msg_namelen = sizeof(sockaddr_storage);
      m.msg_iov = &s->riov[i];
      m.msg_iovlen = 1;
      m.msg_control = s->rctl + static_cast<size_t>(i) * kCtl;
      m.msg_controllen = kCtl;
      m.msg_flags = 0;
    }
    int got = recvmmsg(s->fd, s->rmsg, s->batch, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) s->n.recvErrors++;
      return;
    }
    if (got == 0) return;
    s->n.batches++;
    s->n.received += got;
    for (int i = 0; i < got; i++) Describe(s, i);
    if (!CallJs(s, got)) return;
    unsigned out = 0;
    for (int i = 0; i < got; i++)
      if (PrepareAnswer(s, i, out)) out++;
    s->pendingFrom = 0;
    s->pendingTo = out;
    if (!Flush(s) && WaitIfPending(s)) return;
    // A short batch: the queue is (nearly) empty; poll again rather than spend a recvmmsg on EAGAIN.
    if (static_cast<unsigned>(got) < s->batch) return;
  }
}

void OnPoll(uv_poll_t* h, int status, int events) {
  Sock* s = static_cast<Sock*>(h->data);
  if (s->closing) return;
  if (status < 0) {
    s->n.recvErrors++;
    return;
  }
  if (s->pendingFrom < s->pendingTo) {
    if (!Flush(s)) return;  // still full: keep waiting for writability
    uv_poll_start(&s->poll, UV_READABLE, OnPoll);
  }
  (void)events;
  ReadLoop(s);
}

void Finalize(napi_env, void* data, void*) {
  Sock* s = static_cast<Sock*>(data);
  s->finalized = true;
  if (!s->closing) Shutdown(s);
  if (s->closed) FreeSock(s);
}

uint32_t GetUint(napi_env env, napi_value obj, const char* key, uint32_t fallback) {
  napi_value v;
  uint32_t out;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_get_value_uint32(env, v, &out) != napi_ok) return fallback;
  return out;
}

bool GetBool(napi_env env, napi_value obj, const char* key) {
  napi_value v;
  bool out = false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_get_value_bool(env, v, &out) != napi_ok) return false;
  return out;
}

napi_value NewBuffer(napi_env env, size_t bytes, uint8_t** data, napi_ref* ref) {
  napi_value buf;
  void* p;
  if (napi_create_buffer(env, bytes, &p, &buf) != napi_ok) return nullptr;
  memset(p, 0, bytes);
  *data = static_cast<uint8_t*>(p);
  napi_create_reference(env, buf, 1, ref);
  return buf;
}

// open({ family: 4|6, host, port, batch, slot, reusePort, v6only, recvBuffer, sendBuffer }, onBatch)
// → { socket, port, rx, tx, meta }. Throws an Error whose code is the errno name.
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 2) return Throw(env, EINVAL, "open(options, onBatch)");
  napi_value o = argv[0];
  int family = GetUint(env, o, "family", 4) == 6 ? AF_INET6 : AF_INET;
  uint32_t port = GetUint(env, o, "port", 0);
  uint32_t batch = GetUint(env, o, "batch", 32);
  uint32_t slot = GetUint(env, o, "slot", 4096);
  if (port > 65535 || batch < 1 || batch > 1024 || slot < 512 || slot > 65536) return Throw(env, EINVAL, "open: port, batch (1-1024) or slot (512-65536) out of range");
  char host[64] = {0};
  napi_value hv;
  size_t hostLen = 0;
  CHECK(napi_get_named_property(env, o, "host", &hv));
  if (napi_get_value_string_utf8(env, hv, host, sizeof host, &hostLen) != napi_ok) return Throw(env, EINVAL, "open: host must be a string");

  sockaddr_storage addr = {};
  socklen_t addrLen;
  if (family == AF_INET) {
    sockaddr_in& a = reinterpret_cast<sockaddr_in&>(addr);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return Throw(env, EINVAL, "open: not an IPv4 address");
    addrLen = sizeof a;
  } else {
    sockaddr_in6& a = reinterpret_cast<sockaddr_in6&>(addr);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (inet_pton(AF_INET6, host, &a.sin6_addr) != 1) return Throw(env, EINVAL, "open: not an IPv6 address");
    addrLen = sizeof a;
  }

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Throw(env, errno, "socket");
  int one = 1;
  int err = 0;
  const char* what = nullptr;
  if (GetBool(env, o, "reusePort") && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) what = "SO_REUSEPORT";
  if (family == AF_INET) {
    if (!what && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) what = "IP_PKTINFO";
  } else {
    int v6only = GetBool(env, o, "v6only") ? 1 : 0;
    if (!what && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) what = "IPV6_V6ONLY";
    // Also gives an IPv4 datagram's destination, as a mapped address, on a dual-stack socket.
    if (!what && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0) what = "IPV6_RECVPKTINFO";
  }
  // Buffer sizes are wishes: the kernel caps them (net.core.rmem_max), which is not an error.
  int rcv = static_cast<int>(GetUint(env, o, "recvBuffer", 0));
  if (rcv > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  int snd = static_cast<int>(GetUint(env, o, "sendBuffer", 0));
  if (snd > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  if (!what && bind(fd, reinterpret_cast<sockaddr*>(&addr), addrLen) != 0) what = "bind";
  if (!what && getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addrLen) != 0) what = "getsockname";
  if (what) {
    err = errno;
    close(fd);
    return Throw(env, err, what);
  }

  Sock* s = new (std::nothrow) Sock();
  if (s == nullptr) {
    close(fd);
    return Throw(env, ENOMEM, "open");
  }
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->batch = batch;
  s->slot = slot;
  s->rmsg = new mmsghdr[batch]();
  s->smsg = new mmsghdr[batch]();
  s->riov = new iovec[batch]();
  s->siov = new iovec[batch]();
  s->peer = new sockaddr_storage[batch]();
  s->rctl = new uint8_t[batch * kCtl]();
  s->sctl = new uint8_t[batch * kCtl]();
  s->dest = new Dest[batch]();

  napi_value self, result, v;
  napi_value rx = NewBuffer(env, static_cast<size_t>(batch) * slot, &s->rx, &s->rxRef);
  napi_value tx = NewBuffer(env, static_cast<size_t>(batch) * slot, &s->tx, &s->txRef);
  uint8_t* meta;
  napi_value metaBuf = NewBuffer(env, static_cast<size_t>(batch) * kMeta * 4, &meta, &s->metaRef);
  s->meta = reinterpret_cast<int32_t*>(meta);
  if (rx == nullptr || tx == nullptr || metaBuf == nullptr) {
    Shutdown(s);
    FreeSock(s);
    return Throw(env, ENOMEM, "open: buffers");
  }
  for (unsigned i = 0; i < batch; i++) s->riov[i] = {s->rx + static_cast<size_t>(i) * slot, slot};

  CHECK(napi_create_object(env, &self));
  CHECK(napi_wrap(env, self, s, Finalize, nullptr, nullptr));
  CHECK(napi_create_reference(env, argv[1], 1, &s->cbRef));
  // Weak: the socket object lives as long as JS holds it (the listener does until close()).
  CHECK(napi_create_reference(env, self, 0, &s->selfRef));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "meridian:udp", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, nullptr, name, &s->ctx));

  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    Shutdown(s);
    return Throw(env, EINVAL, "uv_poll_init");
  }
  s->poll.data = s;
  s->polling = true;
  uv_poll_start(&s->poll, UV_READABLE, OnPoll);

  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "socket", self));
  uint16_t boundPort = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in&>(addr).sin_port : reinterpret_cast<sockaddr_in6&>(addr).sin6_port);
  CHECK(napi_create_uint32(env, boundPort, &v));
  CHECK(napi_set_named_property(env, result, "port", v));
  CHECK(napi_set_named_property(env, result, "rx", rx));
  CHECK(napi_set_named_property(env, result, "tx", tx));
  CHECK(napi_set_named_property(env, result, "meta", metaBuf));
  return result;
}

// The socket object that is a native function's first argument; null (with an exception) if not.
Sock* SockArg(napi_env env, napi_callback_info info, const char* usage) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || napi_unwrap(env, argv[0], &data) != napi_ok) {
    Throw(env, EINVAL, usage);
    return nullptr;
  }
  return static_cast<Sock*>(data);
}

// close(socket): stops reading and closes the descriptor (the port is free on return). Idempotent.
napi_value Close(napi_env env, napi_callback_info info) {
  Sock* s = SockArg(env, info, "close(socket)");
  if (s != nullptr) Shutdown(s);
  return nullptr;
}

// counters(socket) → the socket's counters (see Counters).
napi_value GetCounters(napi_env env, napi_callback_info info) {
  Sock* s = SockArg(env, info, "counters(socket)");
  if (s == nullptr) return nullptr;
  const Counters& c = s->n;
  napi_value out, v;
  CHECK(napi_create_object(env, &out));
  const struct {
    const char* name;
    double value;
  } fields[] = {{"received", c.received},     {"truncated", c.truncated},   {"sent", c.sent},         {"sendErrors", c.sendErrors},
                {"sendWaits", c.sendWaits},   {"badLengths", c.badLengths}, {"recvErrors", c.recvErrors}, {"batches", c.batches}};
  for (const auto& f : fields) {
    CHECK(napi_create_double(env, f.value, &v));
    CHECK(napi_set_named_property(env, out, f.name, v));
  }
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"counters", nullptr, GetCounters, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
