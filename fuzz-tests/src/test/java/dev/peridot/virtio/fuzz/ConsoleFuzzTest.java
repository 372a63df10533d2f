package dev.peridot.virtio.fuzz;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.internal.ConsoleDevice;
import dev.peridot.virtio.console.internal.ConsoleOptions;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.fuzz.support.ConsoleFuzzRig;
import dev.peridot.virtio.fuzz.support.Finding;
import dev.peridot.virtio.fuzz.support.Oracle;
import dev.peridot.virtio.fuzz.support.SevereLog;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.testkit.DriverException;
import dev.peridot.virtio.testkit.DriverQueue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Target 3: the virtio console. A multiport console (4 ports, queues of 16) is brought to
 * DRIVER_OK by the test kit; then the fuzzer's bytes become what a driver sends and posts —
 * control messages on the control transmitq (any port id, event and value, short, long, split
 * over descriptors or indirect), control receive buffers of any size (shorter than a header,
 * too short for a PORT_NAME), data buffers on every port's transmitq and receiveq, emergency
 * writes, configuration reads, resets and queue resets — interleaved with what the host does:
 * ports added (names with multi-byte characters, small buffers, both overflow policies) and
 * removed, resizes, input sent and output read.
 *
 * <p>Oracle, besides the shared one (no exception escapes a register access or the console's
 * API beyond what it documents, bounded time, idle worker, Status invariants, nothing severe
 * logged): the control messages the device writes are well-formed and follow the protocol as the
 * driver saw it (no PORT_ADD before DEVICE_READY, none twice, PORT_REMOVE only for added ports,
 * port details only after the driver's PORT_READY, names a prefix of the real name cut at a
 * character boundary); pending control messages stay bounded; host input reaches the guest
 * exactly once and in order; guest output reaches the host on the right port without gaps;
 * used lengths of transmit buffers are 0. At the end, after a reset a fresh driver does the
 * multiport handshake and moves data both ways on port 0.
 */
class ConsoleFuzzTest {

    private static final int MAX_PORTS = 4;
    private static final int QUEUE_SIZE = 16;
    private static final int QUEUES = 2 * (MAX_PORTS + 1);
    private static final int CONTROL_RX = ConsoleDevice.CONTROL_RX;
    private static final int CONTROL_TX = ConsoleDevice.CONTROL_TX;
    private static final String[] NAMES = {"", "org.qemu.guest_agent.0", "p", "naïve-€-port", "日本語のポート名前",
        "x".repeat(60), "a\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"};
    private static final int[] RX_LENGTHS = {0, 1, 7, 8, 9, 10, 12, 16, 20, 24, 30, 64, 128};
    private static final int EMERGENCY_TAG = 7;

    private sealed interface Op {
    }

    /** A control message: header fields, bytes beyond the header (or fewer than 8), split point, indirect. */
    private record Ctrl(long id, int event, int value, int length, int split, boolean indirect) implements Op {
    }

    private record CtrlRx(int count, int length) implements Op {
    }

    private record Tx(int port, int length, int segments) implements Op {
    }

    private record Rx(int port, int length) implements Op {
    }

    private record Harvest(int queue) implements Op {
    }

    private record HostAdd(int id, int name, boolean console, int toGuest, int fromGuest, boolean dropOldest) implements Op {
    }

    private record HostRemove(int id) implements Op {
    }

    private record HostResize(int port, int cols, int rows) implements Op {
    }

    private record HostSend(int port, int length) implements Op {
    }

    private record HostRead(int port, int max) implements Op {
    }

    private record Emergency(int width, int value) implements Op {
    }

    private record ConfigRead(int offset, int width) implements Op {
    }

    /** 0 reset and the kit's bring-up again, 1 reset only, 2 QueueReset of a queue, 3 QueueReady=0 of a queue. */
    private record Lifecycle(int kind, int queue) implements Op {
    }

    /** 8 bytes written over a kit ring (descriptor table, avail ring) of a queue. */
    private record Scribble(int queue, int offset, long value) implements Op {
    }

    private record Setup(boolean multiport, boolean size, boolean eventIdx, boolean indirect, int port0ToGuest,
                         int port0FromGuest, boolean port0DropOldest, List<HostAdd> ports) {
    }

    private record Input(Setup setup, List<Op> ops) {
    }

    private static Input decode(FuzzedDataProvider data) {
        boolean multiport = data.consumeInt(0, 7) != 0;
        Setup setup = new Setup(multiport, data.consumeBoolean(), data.consumeBoolean(), data.consumeBoolean(),
                buffer(data), buffer(data), data.consumeInt(0, 3) == 0, new ArrayList<>());
        int initial = data.consumeInt(0, 3);
        for (int i = 0; i < initial; i++) {
            setup.ports().add(hostAdd(data));
        }
        List<Op> ops = new ArrayList<>();
        while (data.remainingBytes() > 0 && ops.size() < 48) {
            ops.add(switch (data.consumeInt(0, 17)) {
                case 0, 1, 2 -> new Ctrl(data.consumeBoolean() ? data.consumeInt(0, MAX_PORTS) : data.consumeInt() & 0xffffffffL,
                        data.consumeBoolean() ? data.consumeInt(0, 8) : data.consumeInt(0, 0xffff),
                        data.consumeBoolean() ? data.consumeInt(0, 1) : data.consumeInt(0, 0xffff),
                        data.consumeInt(0, 4) == 0 ? data.consumeInt(0, 24) : 8, data.consumeInt(0, 9), data.consumeBoolean());
                case 3, 4 -> new CtrlRx(data.consumeInt(1, 4), RX_LENGTHS[data.consumeInt(0, RX_LENGTHS.length - 1)]);
                case 5 -> new Tx(data.consumeInt(0, MAX_PORTS - 1), data.consumeInt(0, 400), data.consumeInt(1, 3));
                case 6 -> new Rx(data.consumeInt(0, MAX_PORTS - 1), data.consumeInt(0, 400));
                case 7 -> new Harvest(data.consumeInt(0, QUEUES - 1));
                case 8 -> hostAdd(data);
                case 9 -> new HostRemove(data.consumeInt(0, MAX_PORTS));
                case 10 -> new HostResize(data.consumeInt(0, MAX_PORTS), data.consumeInt(0, 0xffff), data.consumeInt(0, 0xffff));
                case 11 -> new HostSend(data.consumeInt(0, MAX_PORTS), data.consumeInt(0, 3000));
                case 12 -> new HostRead(data.consumeInt(0, MAX_PORTS), data.consumeInt(0, 5000));
                case 13 -> new Emergency(new int[] {1, 2, 4}[data.consumeInt(0, 2)], data.consumeInt());
                case 14 -> new ConfigRead(data.consumeInt(0, 15), new int[] {1, 2, 4}[data.consumeInt(0, 2)]);
                case 15 -> new Lifecycle(data.consumeInt(0, 3), data.consumeInt(0, QUEUES - 1));
                case 16 -> new Scribble(data.consumeInt(0, QUEUES - 1), data.consumeInt(0, 400), data.consumeLong());
                default -> new CtrlRx(4, 64);
            });
        }
        return new Input(setup, ops);
    }

    private static int buffer(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeInt(1, 64) : data.consumeInt(1, 8192);
    }

    private static HostAdd hostAdd(FuzzedDataProvider data) {
        return new HostAdd(data.consumeInt(-1, MAX_PORTS), data.consumeInt(0, NAMES.length - 1), data.consumeBoolean(),
                buffer(data), buffer(data), data.consumeInt(0, 3) == 0);
    }

    private static PortSpec spec(HostAdd a) {
        return PortSpec.memory(a.id(), NAMES[a.name()], a.console()).withBuffers(a.toGuest(), a.fromGuest())
                .withOverflow(a.dropOldest() ? OverflowPolicy.DROP_OLDEST : OverflowPolicy.BACKPRESSURE);
    }

    @FuzzTest
    void console(FuzzedDataProvider data) {
        Input input = decode(data);
        try {
            Oracle.withTimingConfirmation(ConsoleFuzzRig::discard, () -> new Run(input).execute());
        } catch (Finding f) {
            throw Finding.describe(f, input);
        }
        ConsoleFuzzRig.inputPassed();
    }

    /** One input. */
    private static final class Run {
        private final Input in;
        private final ConsoleFuzzRig rig;
        private final ConsoleDevice device;
        private final FeatureSet features;
        private DriverQueue[] queues = new DriverQueue[QUEUES];
        /** Only well-formed things so far: the device must not enter NEEDS_RESET. */
        private boolean trusted = true;

        // The protocol as the driver saw it.
        private boolean deviceReadySent;
        private final boolean[] added = new boolean[MAX_PORTS];
        private final boolean[] readyAccepted = new boolean[MAX_PORTS];
        /** Every name each port (incarnation) has had: a PORT_NAME carries the name at its PORT_READY. */
        private final List<List<String>> names = new ArrayList<>();

        // Host to guest: the next stream position per port (exactly once, in order), and whether
        // the driver may have lost completed buffers (a reset: resynchronize on the next byte).
        private final long[] sent = new long[MAX_PORTS];
        private final long[] delivered = new long[MAX_PORTS];
        private final boolean[] resync = new boolean[MAX_PORTS];
        // Guest to host: the last tag index seen per port, and what the driver's chains carry.
        private final int[] lastOut = new int[MAX_PORTS];
        private final boolean[] dropOldest = new boolean[MAX_PORTS];

        Run(Input in) {
            this.in = in;
            Setup s = in.setup();
            ConsoleOptions options = ConsoleOptions.multiport("fuzzcon", MAX_PORTS).withQueueSize(QUEUE_SIZE)
                    .withPort0(PortSpec.memory(0, "", true).withBuffers(s.port0ToGuest(), s.port0FromGuest())
                            .withOverflow(s.port0DropOldest() ? OverflowPolicy.DROP_OLDEST : OverflowPolicy.BACKPRESSURE));
            this.rig = ConsoleFuzzRig.forInput(options);
            this.device = rig.device;
            FeatureSet f = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1).with(ReservedFeature.VIRTIO_F_RING_RESET)
                    .with(ConsoleFeature.VIRTIO_CONSOLE_F_EMERG_WRITE);
            if (s.multiport()) {
                f = f.with(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
            }
            if (s.size()) {
                f = f.with(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE);
            }
            if (s.eventIdx()) {
                f = f.with(ReservedFeature.VIRTIO_F_EVENT_IDX);
            }
            if (s.indirect()) {
                f = f.with(ReservedFeature.VIRTIO_F_INDIRECT_DESC);
            }
            this.features = f;
            Arrays.fill(lastOut, -1);
            dropOldest[0] = s.port0DropOldest();
            for (int p = 0; p < MAX_PORTS; p++) {
                names.add(new ArrayList<>());
            }
            names.get(0).add("");
        }

        private boolean multiport() {
            return features.contains(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
        }

        void execute() {
            for (HostAdd a : in.setup().ports()) {
                hostAdd(a);
            }
            bringUp();
            int step = 0;
            for (Op op : in.ops()) {
                String what = "op " + step++ + " " + op;
                Oracle.run(what, () -> apply(op));
                rig.settle(what);
                int status = rig.observe();
                checkBounded(what);
                if (trusted) {
                    Oracle.check((status & DeviceStatus.DEVICE_NEEDS_RESET) == 0, what
                            + ": DEVICE_NEEDS_RESET though the driver only did well-formed things: "
                            + device.needsResetReason().orElse("?"));
                }
            }
            checkNeverWedged();
        }

        private void bringUp() {
            List<DriverQueue> list = Oracle.call("bring-up", () -> {
                try {
                    return rig.driver.initialize(features, multiport() ? QUEUES : 2, QUEUE_SIZE);
                } catch (DriverException e) {
                    throw new Finding("the kit could not bring the console up with " + features + ": " + e.getMessage(), e);
                }
            });
            queues = new DriverQueue[QUEUES];
            for (int q = 0; q < list.size(); q++) {
                queues[q] = list.get(q);
            }
            rig.settle("bring-up");
            forgetGuestState();
        }

        /** After a reset the driver starts over: the protocol state and what it had in flight are gone. */
        private void forgetGuestState() {
            deviceReadySent = false;
            Arrays.fill(added, false);
            Arrays.fill(readyAccepted, false);
            Arrays.fill(resync, true);
            Arrays.fill(lastOut, -1);
        }

        private void checkBounded(String what) {
            Oracle.check(device.pendingControlMessages() <= ConsoleDevice.MAX_PENDING_CONTROL,
                    what + ": " + device.pendingControlMessages() + " control messages pending");
            for (int q = 0; q < device.queueCount(); q++) {
                var info = device.queueInfo(q);
                Oracle.check(!info.ready() || info.inFlight() <= info.size(), what + ": queue " + q + " has "
                        + info.inFlight() + " chains in flight");
            }
            for (PortInfo p : device.ports()) {
                Oracle.check(p.bufferedFromGuest() <= p.fromGuestCapacity() && p.bufferedToGuest() <= p.toGuestCapacity(),
                        what + ": port " + p.id() + " buffers beyond capacity: " + p);
            }
        }

        // ------------------------------------------------------------ operations

        private void apply(Op op) throws GuestMemoryException {
            switch (op) {
                case Ctrl c -> control(c);
                case CtrlRx r -> {
                    DriverQueue q = queues[CONTROL_RX];
                    if (q != null) {
                        for (int i = 0; i < r.count() && q.size() - q.inFlight() >= 1; i++) {
                            q.addInbound(Math.max(1, r.length()));
                        }
                        q.kick();
                    }
                }
                case Tx t -> tx(t);
                case Rx r -> {
                    DriverQueue q = queues[ConsoleDevice.receiveQueue(r.port())];
                    if (q != null && q.size() - q.inFlight() >= 1 && rig.allocator.freeBytes() > 256 * 1024) {
                        q.addInbound(Math.max(1, r.length()));
                        q.kick();
                    }
                }
                case Harvest h -> harvest(h.queue());
                case HostAdd a -> hostAdd(a);
                case HostRemove r -> {
                    if (r.id() == 0) {
                        names.get(0).add(""); // Port 0 returns to its configuration (no name).
                    }
                    if (device.removePort(r.id()) && r.id() > 0 && r.id() < MAX_PORTS) {
                        sent[r.id()] = 0;
                        delivered[r.id()] = 0;
                        resync[r.id()] = true;
                        lastOut[r.id()] = -1;
                    }
                    if (r.id() == 0) {
                        dropOldest[0] |= in.setup().port0DropOldest(); // Port 0 is back to its configuration.
                    }
                }
                case HostResize r -> {
                    try {
                        device.resize(r.port(), r.cols(), r.rows());
                    } catch (IllegalArgumentException e) {
                        Oracle.check(device.port(r.port()).isEmpty(), "resize of an existing port refused: " + e);
                    }
                }
                case HostSend s -> hostSend(s);
                case HostRead r -> hostRead(r.port(), r.max());
                case Emergency e -> {
                    int v = (EMERGENCY_TAG << 5) | (e.value() & 31);
                    rig.window.write(CONFIG + 8, e.width(), (e.value() & ~0xff) | v);
                }
                case ConfigRead c -> {
                    int v = rig.window.read(CONFIG + c.offset(), c.width());
                    if (c.offset() == 4 && c.width() == 4) {
                        Oracle.check(v == MAX_PORTS, "max_nr_ports reads " + v);
                    }
                    if (c.offset() >= 8 && c.offset() + c.width() <= 12) {
                        Oracle.check(v == 0, "emerg_wr reads " + v);
                    }
                }
                case Lifecycle l -> lifecycle(l);
                case Scribble s -> {
                    DriverQueue q = queues[s.queue()];
                    if (q != null) {
                        trusted = false;
                        long at = s.offset() < 16 * QUEUE_SIZE ? q.descriptorArea() + (s.offset() & ~7)
                                : q.driverArea() + ((s.offset() - 16 * QUEUE_SIZE) % 32 & ~1);
                        rig.ram().writeLong(at, s.value());
                        q.notifyDevice();
                    }
                }
            }
        }

        private void control(Ctrl c) throws GuestMemoryException {
            DriverQueue q = queues[CONTROL_TX];
            if (q == null) {
                return;
            }
            harvest(CONTROL_TX);
            if (q.size() - q.inFlight() < 2) {
                return;
            }
            byte[] msg = new byte[c.length()];
            ByteBuffer b = ByteBuffer.allocate(Math.max(8, c.length())).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(0, (int) c.id()).putShort(4, (short) c.event()).putShort(6, (short) c.value());
            System.arraycopy(b.array(), 0, msg, 0, Math.min(8, msg.length));
            boolean wellFormed = c.length() >= 8;
            if (wellFormed) {
                noteControlSent(c.id(), c.event(), c.value());
            }
            int split = Math.min(c.split(), msg.length);
            if (c.indirect() && !features.contains(ReservedFeature.VIRTIO_F_INDIRECT_DESC)) {
                trusted = false; // Indirect without the feature is a driver bug (HD-26): NEEDS_RESET is allowed.
            }
            List<byte[]> parts = split > 0 && split < msg.length
                    ? List.of(Arrays.copyOf(msg, split), Arrays.copyOfRange(msg, split, msg.length)) : List.of(msg);
            if (msg.length == 0) {
                parts = List.of(new byte[0]);
            }
            if (c.indirect()) {
                q.addIndirect(parts);
            } else {
                q.add(parts);
            }
            q.kick();
        }

        /** What the device will do with a well-formed message, as far as the protocol model needs it. */
        private void noteControlSent(long id, int event, int value) {
            if (event == ConsoleDevice.DEVICE_READY && value == 1) {
                deviceReadySent = true;
            }
            if (event == ConsoleDevice.PORT_READY && value == 1 && id < MAX_PORTS) {
                // The device accepts it if it announced the port (the PORT_ADD may still be on its way) and
                // no PORT_READY was taken for this incarnation yet.
                PortInfo p = device.port((int) id).orElse(null);
                if (p != null && p.announced() && !p.ready()) {
                    readyAccepted[(int) id] = true;
                }
            }
        }

        private void tx(Tx t) {
            DriverQueue q = queues[ConsoleDevice.transmitQueue(t.port())];
            if (q == null || q.size() - q.inFlight() < t.segments() || rig.allocator.freeBytes() < 256 * 1024) {
                return;
            }
            List<byte[]> parts = new ArrayList<>();
            int len = t.length();
            int k = 0;
            for (int s = 0; s < t.segments(); s++) {
                int n = s == t.segments() - 1 ? len - k : Math.min(len - k, len / t.segments());
                byte[] part = new byte[Math.max(0, n)];
                for (int i = 0; i < part.length; i++) {
                    part[i] = (byte) ((t.port() << 5) | ((k + i) & 31));
                }
                k += part.length;
                parts.add(part);
            }
            q.add(parts);
            q.kick();
        }

        private void harvest(int index) {
            DriverQueue q = queues[index];
            if (q == null) {
                return;
            }
            List<DriverQueue.Completion> done;
            try {
                done = q.harvest();
            } catch (DriverException e) {
                if (trusted) {
                    throw new Finding("the driver found a broken used ring on queue " + index + ": " + e.getMessage(), e);
                }
                queues[index] = null;
                return;
            }
            for (DriverQueue.Completion c : done) {
                if (index == CONTROL_RX) {
                    controlMessage(c);
                } else if (index == CONTROL_TX || (index & 1) == 1) {
                    Oracle.check(c.length() == 0, "queue " + index + ": a transmit buffer came back with length "
                            + c.length() + " (the device writes nothing into it)");
                } else {
                    received(ConsoleDevice.portOfQueue(index), c.data());
                }
            }
        }

        /** Checks one control message the device wrote, against the protocol as the driver saw it. */
        private void controlMessage(DriverQueue.Completion c) {
            Oracle.check(multiport(), "a control message without MULTIPORT");
            if (c.length() == 0) {
                return; // A buffer too small for a header, returned unused.
            }
            Oracle.check(c.length() >= 8, "control message of " + c.length() + " bytes");
            ByteBuffer b = ByteBuffer.wrap(c.data()).order(ByteOrder.LITTLE_ENDIAN);
            long id = b.getInt(0) & 0xffffffffL;
            int event = b.getShort(4) & 0xffff;
            int value = b.getShort(6) & 0xffff;
            String m = "control message (id " + id + ", event " + event + ", value " + value + ", " + c.length()
                    + " bytes)";
            Oracle.check(id < MAX_PORTS, m + ": port id beyond max_nr_ports");
            int p = (int) id;
            switch (event) {
                case ConsoleDevice.DEVICE_ADD -> {
                    Oracle.check(deviceReadySent, m + ": PORT_ADD before the driver's DEVICE_READY");
                    Oracle.check(!added[p], m + ": PORT_ADD for a port the driver has already");
                    Oracle.check(c.length() == 8 && value == 1, m + ": malformed PORT_ADD");
                    added[p] = true;
                    resync[p] = true;
                }
                case ConsoleDevice.DEVICE_REMOVE -> {
                    Oracle.check(added[p], m + ": PORT_REMOVE for a port the driver does not have");
                    Oracle.check(c.length() == 8, m + ": malformed PORT_REMOVE");
                    added[p] = false;
                    readyAccepted[p] = false;
                }
                case ConsoleDevice.CONSOLE_PORT, ConsoleDevice.RESIZE, ConsoleDevice.PORT_OPEN, ConsoleDevice.PORT_NAME -> {
                    Oracle.check(added[p], m + ": for a port the driver does not have");
                    Oracle.check(readyAccepted[p], m + ": before the driver's PORT_READY for the port");
                    switch (event) {
                        case ConsoleDevice.CONSOLE_PORT -> Oracle.check(c.length() == 8 && value == 1, m + ": malformed");
                        case ConsoleDevice.RESIZE -> Oracle.check(c.length() == 12
                                && features.contains(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE), m + ": malformed or without SIZE");
                        case ConsoleDevice.PORT_OPEN -> Oracle.check(c.length() == 8 && value <= 1, m + ": malformed");
                        default -> {
                            byte[] name = Arrays.copyOfRange(c.data(), 8, c.length());
                            boolean prefix = false;
                            for (String full : names.get(p)) {
                                byte[] fullBytes = full.getBytes(StandardCharsets.UTF_8);
                                prefix |= name.length <= fullBytes.length
                                        && Arrays.equals(name, Arrays.copyOf(fullBytes, name.length))
                                        && (name.length == fullBytes.length || (fullBytes[name.length] & 0xC0) != 0x80);
                            }
                            Oracle.check(prefix, m + ": PORT_NAME is not one of the port's names " + names.get(p)
                                    + " cut at a character boundary");
                        }
                    }
                }
                default -> throw new Finding(m + ": an event a device must not send");
            }
        }

        /** Host-to-guest bytes on port {@code port}: the host's stream, exactly once and in order. */
        private void received(int port, byte[] data) {
            for (byte x : data) {
                int tag = (x & 0xff) >>> 5;
                Oracle.check(tag == port, "port " + port + " received a byte of port " + tag);
                if (resync[port]) {
                    resync[port] = false;
                    delivered[port] = x & 31; // Buffers completed before a reset were lost to the driver, not the device.
                    delivered[port] = (delivered[port] + 1);
                    continue;
                }
                Oracle.check((delivered[port] & 31) == (x & 31), "port " + port + ": host input out of order or lost: "
                        + "expected position " + (delivered[port] & 31) + ", got " + (x & 31));
                delivered[port]++;
            }
        }

        private void hostSend(HostSend s) {
            byte[] data = new byte[s.length()];
            int p = s.port();
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) ((p << 5) | (int) ((sent[Math.min(p, MAX_PORTS - 1)] + i) & 31));
            }
            try {
                int accepted = device.send(p, data);
                Oracle.check(accepted >= 0 && accepted <= data.length, "send accepted " + accepted);
                sent[p] += accepted;
            } catch (IllegalArgumentException e) {
                Oracle.check(device.port(p).isEmpty(), "send to an existing port refused: " + e);
            }
        }

        private void hostRead(int port, int max) {
            byte[] out;
            try {
                out = device.read(port, max);
            } catch (IllegalArgumentException e) {
                Oracle.check(device.port(port).isEmpty(), "read of an existing port refused: " + e);
                return;
            }
            Oracle.check(out.length <= max, "read returned more than asked");
            for (byte x : out) {
                int tag = (x & 0xff) >>> 5;
                if (tag == EMERGENCY_TAG) {
                    Oracle.check(port == 0, "an emergency write reached port " + port);
                    continue;
                }
                Oracle.check(tag == port, "port " + port + " got guest output of port " + tag);
                int i = x & 31;
                if (!dropOldest[port] && lastOut[port] >= 0) {
                    Oracle.check(i == ((lastOut[port] + 1) & 31) || i == 0, "port " + port
                            + ": guest output has a gap: " + lastOut[port] + " then " + i);
                }
                lastOut[port] = i;
            }
        }

        private void hostAdd(HostAdd a) {
            try {
                int id = device.addPort(spec(a));
                if (id > 0) {
                    names.get(id).clear();
                }
                names.get(id).add(NAMES[a.name()]);
                if (id > 0) {
                    sent[id] = 0;
                    delivered[id] = 0;
                    resync[id] = true;
                    lastOut[id] = -1;
                    dropOldest[id] = a.dropOldest();
                } else {
                    dropOldest[0] |= a.dropOldest(); // Same buffers: bytes dropped earlier stay a gap.
                }
            } catch (IllegalStateException | IllegalArgumentException e) {
                // Documented: the port exists already, no number is free, or the id is not below max_nr_ports.
                boolean documented = a.id() >= MAX_PORTS || e instanceof IllegalStateException;
                Oracle.check(documented, "addPort refused " + a + ": " + e);
            }
        }

        private void lifecycle(Lifecycle l) {
            switch (l.kind()) {
                case 0 -> {
                    rig.resetAndAwait("reset and bring-up again");
                    rig.freshDriver();
                    bringUp();
                }
                case 1 -> {
                    rig.resetAndAwait("reset");
                    rig.freshDriver();
                    queues = new DriverQueue[QUEUES];
                    forgetGuestState();
                }
                default -> {
                    trusted = false; // A queue taken away under the device: its chains are dropped by design.
                    rig.window.write(QUEUE_SEL, 4, l.queue());
                    rig.window.write(l.kind() == 2 ? QUEUE_RESET : QUEUE_READY, 4, l.kind() == 2 ? 1 : 0);
                    queues[l.queue()] = null;
                    int port = ConsoleDevice.portOfQueue(l.queue());
                    if (port >= 0 && port < MAX_PORTS) {
                        resync[port] = true;
                        lastOut[port] = -1;
                    }
                }
            }
        }

        // ------------------------------------------------------------ the end of the input

        /**
         * A reset, a fresh driver, the multiport handshake for port 0 (DEVICE_READY, PORT_ADD,
         * PORT_READY, PORT_OPEN), then a byte each way: host to guest after whatever input was
         * still buffered, guest to host after whatever output the host had not read.
         */
        private void checkNeverWedged() {
            rig.resetAndAwait("final");
            rig.freshDriver();
            FeatureSet f = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1)
                    .with(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
            List<DriverQueue> list = Oracle.call("fresh driver initialize", () -> {
                try {
                    return rig.driver.initialize(f, QUEUES, QUEUE_SIZE);
                } catch (DriverException e) {
                    throw new Finding("a fresh driver cannot bring the console up after a reset: " + e.getMessage(), e);
                }
            });
            rig.settle("fresh driver");
            DriverQueue ctrlRx = list.get(CONTROL_RX);
            DriverQueue ctrlTx = list.get(CONTROL_TX);
            for (int i = 0; i < 8; i++) {
                ctrlRx.addInbound(64);
            }
            ctrlRx.kick();
            sendControl(ctrlTx, 0xffffffffL, ConsoleDevice.DEVICE_READY, 1);
            Oracle.check(awaitControl(ctrlRx, 0, ConsoleDevice.DEVICE_ADD), "fresh driver: no PORT_ADD for port 0");
            sendControl(ctrlTx, 0, ConsoleDevice.PORT_READY, 1);
            sendControl(ctrlTx, 0, ConsoleDevice.PORT_OPEN, 1);
            DriverQueue rx0 = list.get(0);
            DriverQueue tx0 = list.get(1);
            rx0.addInbound(16 * 1024);
            rx0.kick();
            byte[] marker = "peridot-fuzz".getBytes(StandardCharsets.US_ASCII);
            long deadline = System.nanoTime() + 10 * Oracle.BOUND_NANOS;
            int accepted = 0;
            StringBuilder toGuest = new StringBuilder();
            while (!toGuest.toString().endsWith("peridot-fuzz")) {
                Oracle.check(System.nanoTime() < deadline, "fresh driver: host input does not reach the guest; "
                        + device.port(0).orElseThrow());
                if (accepted < marker.length) {
                    accepted += device.send(0, marker, accepted, marker.length - accepted);
                }
                rig.settle("fresh driver: host input");
                for (DriverQueue.Completion c : rx0.harvest()) {
                    toGuest.append(new String(c.data(), StandardCharsets.ISO_8859_1));
                    rx0.addInbound(16 * 1024);
                    rx0.kick();
                }
                if (toGuest.length() > 64) {
                    toGuest.delete(0, toGuest.length() - 64);
                }
            }
            tx0.addOutbound(marker);
            tx0.kick();
            boolean dropping = device.port(0).orElseThrow().overflow() == OverflowPolicy.DROP_OLDEST;
            StringBuilder toHost = new StringBuilder();
            // With drop-oldest a small buffer keeps only the newest bytes: then the last byte must be the marker's.
            while (dropping ? !toHost.toString().endsWith("z") : !toHost.toString().endsWith("peridot-fuzz")) {
                Oracle.check(System.nanoTime() < deadline, "fresh driver: guest output does not reach the host; "
                        + device.port(0).orElseThrow());
                rig.settle("fresh driver: guest output");
                toHost.append(new String(device.read(0, 1 << 20), StandardCharsets.ISO_8859_1));
                if (toHost.length() > 64) {
                    toHost.delete(0, toHost.length() - 64);
                }
            }
            Oracle.check((device.status() & DeviceStatus.DEVICE_NEEDS_RESET) == 0, "fresh driver: NEEDS_RESET: "
                    + device.needsResetReason().orElse("?"));
            rig.resetAndAwait("after the fresh driver");
            SevereLog.checkNone("end of input");
        }

        private void sendControl(DriverQueue q, long id, int event, int value) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0, (int) id)
                    .putShort(4, (short) event).putShort(6, (short) value);
            q.addOutbound(b.array());
            q.kick();
            rig.settle("fresh driver: control message");
            q.harvest();
        }

        private boolean awaitControl(DriverQueue ctrlRx, int port, int event) {
            long deadline = System.nanoTime() + Oracle.BOUND_NANOS;
            while (System.nanoTime() < deadline) {
                rig.settle("fresh driver: control messages");
                for (DriverQueue.Completion c : ctrlRx.harvest()) {
                    ByteBuffer b = ByteBuffer.wrap(c.data()).order(ByteOrder.LITTLE_ENDIAN);
                    ctrlRx.addInbound(64);
                    ctrlRx.kick();
                    if (c.length() >= 8 && b.getInt(0) == port && (b.getShort(4) & 0xffff) == event) {
                        return true;
                    }
                }
            }
            return false;
        }
    }
}
