package dev.peridot.virtio.fuzz;

import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peridot.virtio.fuzz.support.Finding;
import dev.peridot.virtio.fuzz.support.FrontEnd;
import dev.peridot.virtio.fuzz.support.Oracle;
import dev.peridot.virtio.fuzz.support.SpinWatch;
import dev.peridot.virtio.fuzz.support.VhostUserFuzzRig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Target 4: the vhost-user message parser and session. Each input is one front-end connection
 * to a back-end serving a {@link dev.peridot.virtio.fuzz.support.FuzzDevice}: the fuzzer's
 * bytes become a stream of messages — any request code, version and flag bits, payloads built
 * for the request (ring states, ring addresses inside or outside the memory table, memory tables
 * with 0 to 9 regions of any geometry, feature words, config windows) or raw, descriptors
 * attached or not (a memfd per region, eventfds, too many) — interleaved with what a driver
 * does meanwhile (buffers posted on a ring, kicks, ring memory overwritten), and optionally a
 * last chunk of raw bytes (a truncated or lying header) before the front-end goes away.
 *
 * <p>Oracle: after every message a GET_QUEUE_NUM probe must be answered within the bound (or the
 * back-end has closed the connection because the message broke the protocol, which is its
 * answer); every reply is a well-formed reply; nothing is logged as severe (an exception that
 * escaped the session, the kick thread or the device). After the connection ends, the device
 * must be reset, and a fresh front-end must bring ring 0 up and move a buffer through it.
 */
class VhostUserMessageFuzzTest {

    private static final int[] REQUESTS = {GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE,
        SET_LOG_BASE, SET_LOG_FD, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_KICK,
        SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE,
        GET_CONFIG, SET_CONFIG, 0, 19, 22, 31, 34, 39, 40, 63, 64, 0x7fffffff, -1};
    private static final long[] U32S = {0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 257, 1024, 32768, 32769, 65535, 65536,
        0x7fffffffL, 0x80000000L, 0xffffffffL};
    private static final long[] GEOMETRY = {0, 1, 0x1000, VhostUserFuzzRig.RAM_GPA, VhostUserFuzzRig.RAM_SIZE,
        VhostUserFuzzRig.RAM_SIZE / 2, VhostUserFuzzRig.RAM_SIZE + 0x1000, 2 * VhostUserFuzzRig.RAM_SIZE,
        VhostUserFuzzRig.USER_BASE, VhostUserFuzzRig.USER_BASE + 0x1000, Long.MAX_VALUE, Long.MIN_VALUE, -1, -0x1000,
        0x7fff_ffff_f000L, 1L << 40};

    private sealed interface Op {
    }

    /** A message: request code, header flags, the size the header claims, payload, descriptors. */
    private record Msg(int request, int flags, int size, byte[] payload, int fds, boolean fdsAreMemFd) implements Op {
        @Override
        public String toString() {
            return String.format("Msg[%s flags 0x%x size %d payload %s fds %d%s]", name(request), flags, size,
                    java.util.HexFormat.of().formatHex(payload), fds, fdsAreMemFd ? " memfd" : "");
        }
    }

    /** A driver posts a chain on a ring and maybe kicks it. */
    private record Post(int ring, int head, int out, int in, boolean kick) implements Op {
    }

    /** A driver (or a front-end bug) overwrites 8 bytes of guest RAM. */
    private record Poke(long offset, long value) implements Op {
    }

    /** What QEMU sends to start ring {@code ring}, as one step (so the search starts from live rings). */
    private record StartRing(int ring, boolean protocolFeatures) implements Op {
    }

    private record Input(List<Op> ops, byte[] tail) {
    }

    private static Input decode(FuzzedDataProvider data) {
        List<Op> ops = new ArrayList<>();
        while (data.remainingBytes() > 0 && ops.size() < 24 && !data.consumeBoolean()) {
            int kind = data.consumeInt(0, 9);
            ops.add(switch (kind) {
                case 0 -> new Post(data.consumeInt(0, 2), data.consumeInt(0, 7), data.consumeInt(0, 64),
                        data.consumeInt(0, 64), data.consumeBoolean());
                case 1 -> new Poke(data.consumeLong(), data.consumeLong());
                case 2 -> new StartRing(data.consumeInt(0, 2), data.consumeBoolean());
                default -> message(data);
            });
        }
        byte[] tail = data.consumeBoolean() ? data.consumeBytes(64) : new byte[0];
        return new Input(ops, tail);
    }

    private static Msg message(FuzzedDataProvider data) {
        int request = data.consumeBoolean() ? REQUESTS[data.consumeInt(0, REQUESTS.length - 1)] : data.consumeInt();
        int flags = switch (data.consumeInt(0, 3)) {
            case 0, 1 -> VERSION;
            case 2 -> VERSION | FLAG_NEED_REPLY;
            default -> data.consumeInt();
        };
        byte[] payload;
        int fds;
        boolean memFd = false;
        if (data.consumeInt(0, 4) == 0) {
            payload = data.consumeBytes(data.consumeInt(0, 300));
            fds = data.consumeInt(0, 9);
            memFd = data.consumeBoolean();
        } else {
            ByteBuffer b;
            fds = 0;
            switch (request) {
                case SET_FEATURES, SET_PROTOCOL_FEATURES, SET_LOG_BASE -> {
                    long v = data.consumeBoolean() ? data.consumeLong() : switch (data.consumeInt(0, 3)) {
                        case 0 -> (1L << 32) | (1L << F_PROTOCOL_FEATURES);
                        case 1 -> (1L << 32) | (1L << 28) | (1L << 29) | (1L << F_PROTOCOL_FEATURES);
                        case 2 -> SUPPORTED_PROTOCOL_FEATURES;
                        default -> 1L << 32;
                    };
                    b = buffer(8).putLong(0, v);
                }
                case SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE -> b = buffer(8)
                        .putInt(0, (int) (data.consumeBoolean() ? data.consumeInt(0, 3) : u32(data)))
                        .putInt(4, (int) u32(data));
                case SET_VRING_ADDR -> {
                    int ring = data.consumeBoolean() ? data.consumeInt(0, 3) : (int) u32(data);
                    b = buffer(40).put(0, VhostUserFuzzRig.vringAddr(Math.floorMod(ring, 3))).putInt(0, ring);
                    if (data.consumeBoolean()) {
                        b.putInt(4, (int) u32(data));
                    }
                    for (int field = 8; field <= 32; field += 8) {
                        if (data.consumeInt(0, 3) == 0) {
                            b.putLong(field, data.consumeBoolean() ? geometry(data) : b.getLong(field) + data.consumeInt(-64, 64));
                        }
                    }
                }
                case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> {
                    long v = data.consumeBoolean() ? data.consumeInt(0, 3) : data.consumeLong();
                    if (data.consumeInt(0, 3) == 0) {
                        v |= VRING_NOFD_MASK;
                    }
                    b = buffer(8).putLong(0, v);
                    fds = (v & VRING_NOFD_MASK) != 0 ? 0 : 1;
                    if (data.consumeInt(0, 5) == 0) {
                        fds = data.consumeInt(0, 2);
                    }
                    memFd = data.consumeInt(0, 7) == 0; // Not an eventfd at all (a regular file: always readable).
                }
                case SET_MEM_TABLE -> {
                    int regions = data.consumeBoolean() ? 1 : data.consumeInt(0, 9);
                    int declared = data.consumeInt(0, 5) == 0 ? (int) u32(data) : regions;
                    b = buffer(8 + 32 * regions).putInt(0, declared);
                    for (int r = 0; r < regions; r++) {
                        // Each region starts as the real one (all of RAM) and has some of its fields replaced:
                        // guest address, size, user address, offset into the memfd.
                        int o = 8 + 32 * r;
                        b.put(o, VhostUserFuzzRig.memTable(), 8, 32);
                        for (int field = 0; field < 4; field++) {
                            if (data.consumeInt(0, 3) == 0) {
                                b.putLong(o + 8 * field, geometry(data));
                            }
                        }
                    }
                    fds = data.consumeInt(0, 5) == 0 ? data.consumeInt(0, 9) : regions;
                    memFd = true;
                }
                case GET_CONFIG, SET_CONFIG -> {
                    int size = data.consumeBoolean() ? data.consumeInt(0, 20) : (int) u32(data);
                    int actual = Math.min(Math.max(size, 0), 256);
                    if (data.consumeInt(0, 4) == 0) {
                        actual = data.consumeInt(0, 260);
                    }
                    b = buffer(12 + actual).putInt(0, data.consumeBoolean() ? data.consumeInt(0, 20) : (int) u32(data))
                            .putInt(4, size).putInt(8, data.consumeInt());
                    byte[] cfg = data.consumeBytes(actual);
                    b.put(12, cfg, 0, cfg.length);
                }
                default -> b = buffer(0);
            }
            payload = b.array();
        }
        int size = data.consumeInt(0, 15) == 0 ? data.consumeInt(0, payload.length) : payload.length;
        return new Msg(request, flags, size, payload, fds, memFd);
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long u32(FuzzedDataProvider data) {
        return data.consumeBoolean() ? U32S[data.consumeInt(0, U32S.length - 1)] : data.consumeInt() & 0xffffffffL;
    }

    private static long geometry(FuzzedDataProvider data) {
        return data.consumeBoolean() ? GEOMETRY[data.consumeInt(0, GEOMETRY.length - 1)] : data.consumeLong();
    }

    @FuzzTest
    void messageStreams(FuzzedDataProvider data) {
        Input input = decode(data);
        try {
            Oracle.withTimingConfirmation(VhostUserFuzzRig::discard, () -> run(VhostUserFuzzRig.forInput(), input));
        } catch (Finding f) {
            throw Finding.describe(f, input.ops() + " tail " + java.util.HexFormat.of().formatHex(input.tail()));
        }
        VhostUserFuzzRig.inputPassed();
    }

    private static void run(VhostUserFuzzRig rig, Input input) {
        try (FrontEnd fe = Oracle.call("connect", () -> new FrontEnd(rig.socket))) {
            boolean open = true;
            int step = 0;
            for (Op op : input.ops()) {
                String what = "op " + step++ + " " + op;
                switch (op) {
                    case Post p -> {
                        rig.post(p.ring(), p.head(), p.out(), p.in());
                        if (p.kick()) {
                            rig.kick(p.ring());
                        }
                    }
                    case Poke p -> rig.poke(p.offset(), p.value());
                    case StartRing s -> {
                        if (open) {
                            open = startRing(rig, fe, s, what);
                        }
                    }
                    case Msg m -> {
                        if (open) {
                            open = exchange(rig, fe, m, what);
                        }
                    }
                }
            }
            if (open && input.tail().length > 0) {
                Oracle.run("raw tail", () -> fe.sendRaw(input.tail(), new int[0]));
            }
            // Nothing is asked of the back-end now: its kick thread and the device's worker must be idle.
            rig.device.quiesce(Oracle.BOUND_NANOS);
            SpinWatch.checkIdle("end of the input's connection", "vhost-user-kick-", "virtio-vufuzz0");
        }
        rig.awaitDisconnected("the input's connection ended");
        rig.checkWorks();
    }

    /** Sends one message and a GET_QUEUE_NUM probe; returns false if the back-end closed the connection. */
    private static boolean exchange(VhostUserFuzzRig rig, FrontEnd fe, Msg m, String what) {
        return Oracle.call(what, () -> {
            int[] fds = new int[m.fds()];
            int ring = m.payload().length > 0 ? (m.payload()[0] & 0xFF) % VhostUserFuzzRig.RINGS : 0;
            for (int i = 0; i < fds.length; i++) {
                fds[i] = m.fdsAreMemFd() ? rig.memFd : switch (m.request()) {
                    case SET_VRING_CALL -> rig.callFds[ring];
                    case SET_VRING_ERR -> rig.errFds[ring];
                    default -> rig.kickFds[(ring + i) % VhostUserFuzzRig.RINGS];
                };
            }
            try {
                fe.send(m.request(), m.flags(), m.size(), m.payload(), fds);
                if (m.size() != m.payload().length) {
                    return false; // The header lies about the size: the rest of the stream is out of step; stop here.
                }
                fe.send(GET_QUEUE_NUM, VERSION, 0, new byte[0], new int[0]);
            } catch (IOException e) {
                return false; // EPIPE: the back-end already closed the connection.
            }
            return awaitProbe(fe, m.request(), what);
        });
    }

    /** Reads replies up to the probe's; false at end of stream. */
    private static boolean awaitProbe(FrontEnd fe, int request, String what) throws IOException {
        long deadline = System.nanoTime() + Oracle.BOUND_NANOS;
        int queueNumReplies = request == GET_QUEUE_NUM ? 2 : 1; // The message's own answer, then the probe's.
        while (true) {
            FrontEnd.Reply r = fe.read(deadline, "the reply to the GET_QUEUE_NUM probe after " + what);
            if (r == null) {
                return false;
            }
            Oracle.check(r.flags() == (VERSION | FLAG_REPLY), what + ": reply flags 0x" + Integer.toHexString(r.flags()));
            if (r.request() == GET_QUEUE_NUM) {
                Oracle.check(r.payload().length == 8 && ByteBuffer.wrap(r.payload()).order(ByteOrder.LITTLE_ENDIAN)
                        .getLong(0) == VhostUserFuzzRig.RINGS, what + ": GET_QUEUE_NUM answered wrongly");
                if (--queueNumReplies == 0) {
                    return true;
                }
                continue;
            }
            Oracle.check(r.request() == request, what + ": a reply for request " + r.request());
        }
    }

    private static boolean startRing(VhostUserFuzzRig rig, FrontEnd fe, StartRing s, String what) {
        int q = s.ring();
        long features = (1L << 32) | (s.protocolFeatures() ? 1L << F_PROTOCOL_FEATURES : 0);
        Msg[] msgs = {
            new Msg(SET_FEATURES, VERSION, 8, VhostUserFuzzRig.u64(features), 0, false),
            new Msg(SET_MEM_TABLE, VERSION, 40, VhostUserFuzzRig.memTable(), 1, true),
            new Msg(SET_VRING_NUM, VERSION, 8, VhostUserFuzzRig.state(q, VhostUserFuzzRig.RING_SIZE), 0, false),
            new Msg(SET_VRING_BASE, VERSION, 8, VhostUserFuzzRig.state(q, 0), 0, false),
            new Msg(SET_VRING_ADDR, VERSION, 40, VhostUserFuzzRig.vringAddr(q), 0, false),
            new Msg(SET_VRING_KICK, VERSION, 8, VhostUserFuzzRig.u64(q), 1, false),
            new Msg(SET_VRING_CALL, VERSION, 8, VhostUserFuzzRig.u64(q), 1, false),
            new Msg(SET_VRING_ENABLE, VERSION, 8, VhostUserFuzzRig.state(q, 1), 0, false),
        };
        for (Msg m : msgs) {
            if (!exchange(rig, fe, m, what + " " + m)) {
                return false;
            }
        }
        return true;
    }
}
