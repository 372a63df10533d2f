package dev.peridot.virtio.fuzz.support;

import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;

import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.memory.MemoryRegion;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.transport.vhostuser.VhostUserBackend;
import dev.peridot.virtio.transport.vhostuser.VhostUserDevice;
import dev.peridot.virtio.transport.vhostuser.internal.Native;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * A vhost-user back-end serving a {@link FuzzDevice} on a Unix socket, and what a front-end
 * needs to talk to it: guest RAM in a memfd (shared with the back-end by SET_MEM_TABLE, mapped
 * here too so that rings can be written and checked), eventfds for kicks and calls, and ring
 * layouts. Reused across inputs; every input gets its own connection, and the end-of-input
 * check proves that the back-end and the device survived it.
 */
// Restricted FFM methods (memfd_create, reinterpret) are needed to play QEMU's part.
@SuppressWarnings("restricted")
public final class VhostUserFuzzRig implements AutoCloseable {

    public static final long RAM_GPA = 0x10_0000L;
    public static final long RAM_SIZE = 1L << 20;
    /** The front-end's pretend virtual address of guest RAM. */
    public static final long USER_BASE = 0x7f00_1234_0000L;
    public static final int RINGS = 3;
    public static final int RING_SIZE = 8;
    public static final long BUFFERS = RAM_GPA + 0x8_0000L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MEMFD_CREATE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("memfd_create").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("ftruncate").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));

    private static VhostUserFuzzRig shared;
    private static boolean sharedDirty;

    public final Path dir;
    public final String socket;
    public final FuzzDevice device = new FuzzDevice("vufuzz0");
    public final VhostUserBackend backend;
    public final int memFd;
    private final long mapping;
    private final Arena arena = Arena.ofShared();
    public final SegmentGuestMemory ram;
    private final MemorySegment ramSegment;
    public final int[] kickFds = new int[RINGS];
    public final int[] callFds = new int[RINGS];
    public final int[] errFds = new int[RINGS];
    private final MemorySegment one = arena.allocate(8, 8);
    private final MemorySegment scratch = arena.allocate(8, 8);
    private final MemorySegment pollFd = arena.allocate(Native.POLLFD_SIZE, 4);
    private final int[] availIdx = new int[RINGS];

    private VhostUserFuzzRig() {
        SevereLog.install();
        try {
            dir = Files.createTempDirectory("peridot-vhost-fuzz");
            socket = dir.resolve("fuzz.sock").toString();
            try (Arena a = Arena.ofConfined()) {
                memFd = (int) MEMFD_CREATE.invokeExact(a.allocateFrom("peridot-fuzz-ram"), 1 /* MFD_CLOEXEC */);
                if (memFd < 0 || (int) FTRUNCATE.invokeExact(memFd, RAM_SIZE) != 0) {
                    throw new IOException("memfd_create/ftruncate failed");
                }
            }
            mapping = Native.mapShared(memFd, 0, RAM_SIZE);
            ramSegment = MemorySegment.ofAddress(mapping).reinterpret(RAM_SIZE, arena, s -> Native.unmap(mapping, RAM_SIZE));
            ram = SegmentGuestMemory.of(java.util.List.of(new MemoryRegion(RAM_GPA, ramSegment, "fuzz-ram")));
            for (int i = 0; i < RINGS; i++) {
                kickFds[i] = Native.eventFd();
                callFds[i] = Native.eventFd();
                errFds[i] = Native.eventFd();
            }
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            backend = VhostUserBackend.start(Path.of(socket),
                    new VhostUserDevice(new DefaultConfigOperations(device), device, device));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        checkWorks();
        SevereLog.clear();
    }

    /** The rig for the next input (rebuilt after a finding). */
    public static synchronized VhostUserFuzzRig forInput() {
        if (shared == null || sharedDirty) {
            if (shared != null) {
                shared.close();
            }
            shared = new VhostUserFuzzRig();
        }
        sharedDirty = true;
        shared.beginInput();
        return shared;
    }

    public static synchronized void inputPassed() {
        sharedDirty = false;
    }

    public static synchronized void discard() {
        if (shared != null) {
            shared.close();
            shared = null;
        }
    }

    private void beginInput() {
        device.clearInjectedFailure();
        ramSegment.fill((byte) 0);
        Arrays.fill(availIdx, 0);
        for (int i = 0; i < RINGS; i++) {
            Native.drainEventFd(kickFds[i], scratch);
            Native.drainEventFd(callFds[i], scratch);
            Native.drainEventFd(errFds[i], scratch);
        }
        SevereLog.clear();
    }

    // ---------------------------------------------------------------- ring layout and driver steps

    public static long desc(int ring) {
        return RAM_GPA + ring * 0x1000L;
    }

    public static long avail(int ring) {
        return desc(ring) + 0x100;
    }

    public static long used(int ring) {
        return desc(ring) + 0x200;
    }

    public static long user(long gpa) {
        return gpa - RAM_GPA + USER_BASE;
    }

    /** The SET_VRING_ADDR payload of ring {@code ring} at its place in RAM. */
    public static byte[] vringAddr(int ring) {
        return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(0, ring).putInt(4, 0)
                .putLong(8, user(desc(ring))).putLong(16, user(used(ring))).putLong(24, user(avail(ring)))
                .putLong(32, 0).array();
    }

    /** The one-region SET_MEM_TABLE payload of all of RAM. */
    public static byte[] memTable() {
        return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1).putLong(8, RAM_GPA)
                .putLong(16, RAM_SIZE).putLong(24, USER_BASE).putLong(32, 0).array();
    }

    public static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v).array();
    }

    public static byte[] state(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0, index).putInt(4, num).array();
    }

    /**
     * The driver posts a chain on ring {@code ring}: {@code out} readable bytes then
     * {@code in} writable bytes, in buffers of their own (descriptor {@code head} and the next).
     */
    public void post(int ring, int head, int out, int in) {
        try {
            long buf = BUFFERS + ring * 0x1_0000L + head * 0x1000L;
            int d = head % RING_SIZE;
            int count = 0;
            if (out > 0) {
                byte[] b = new byte[out];
                for (int i = 0; i < out; i++) {
                    b[i] = (byte) (i + 1);
                }
                ram.write(buf, b, 0, out);
            }
            long descBase = desc(ring);
            if (out > 0) {
                writeDesc(descBase, d, buf, out, in > 0 ? SplitRing.DESC_F_NEXT : 0, (d + 1) % RING_SIZE);
                count++;
            }
            if (in > 0 || count == 0) {
                int di = (d + count) % RING_SIZE;
                writeDesc(descBase, di, buf + 0x800, Math.max(in, 1), SplitRing.DESC_F_WRITE, 0);
            }
            ram.writeShort(avail(ring) + SplitRing.availEntryOffset(availIdx[ring] % RING_SIZE), (short) d);
            availIdx[ring] = (availIdx[ring] + 1) & 0xFFFF;
            ram.writeShort(avail(ring) + SplitRing.RING_IDX, (short) availIdx[ring]);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException(e);
        }
    }

    private void writeDesc(long table, int i, long address, int length, int flags, int next) throws GuestMemoryException {
        long at = table + 16L * i;
        ram.writeLong(at, address);
        ram.writeInt(at + 8, length);
        ram.writeShort(at + 12, (short) flags);
        ram.writeShort(at + 14, (short) next);
    }

    /** Writes raw bytes into guest RAM (a hostile driver's ring scribbles). */
    public void poke(long offset, long value) {
        try {
            ram.writeLong(RAM_GPA + Math.floorMod(offset, RAM_SIZE - 8), value);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException(e);
        }
    }

    public void kick(int ring) {
        Native.signalEventFd(kickFds[ring], one);
    }

    public int usedIdx(int ring) {
        try {
            return ram.readShort(used(ring) + SplitRing.RING_IDX) & 0xFFFF;
        } catch (GuestMemoryException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- oracle

    /** Waits (bounded) until the back-end has ended the connection and reset the device. */
    public void awaitDisconnected(String after) {
        long deadline = System.nanoTime() + 10 * Oracle.BOUND_NANOS;
        while (backend.isConnected() || device.status() != 0 || device.isResetUnderway()) {
            if (System.nanoTime() > deadline) {
                throw new Finding.TooSlow("the back-end did not end the connection and reset the device in time after "
                        + after + ": connected " + backend.isConnected() + ", " + device);
            }
            LockSupport.parkNanos(20_000);
        }
    }

    /**
     * The end of every input: a fresh, well-behaved front-end connects, does what QEMU does to
     * start ring 0 (the loopback queue), and one buffer goes through with the right content.
     */
    public void checkWorks() {
        Oracle.check(backend.protocolErrors() >= 0, "");
        try (FrontEnd fe = new FrontEnd(socket)) {
            long deadline = System.nanoTime() + 10 * Oracle.BOUND_NANOS;
            fe.send(GET_FEATURES, VERSION, 0, new byte[0], new int[0]);
            FrontEnd.Reply features = fe.read(deadline, "GET_FEATURES of the fresh front-end");
            Oracle.check(features != null && features.request() == GET_FEATURES && features.payload().length == 8,
                    "fresh front-end: no GET_FEATURES reply (the back-end is not serving): " + backend.lastDisconnectReason());
            fe.send(SET_PROTOCOL_FEATURES, VERSION, 8, u64(1L << PROTOCOL_F_REPLY_ACK), new int[0]);
            fe.send(SET_OWNER, VERSION, 0, new byte[0], new int[0]);
            fe.send(SET_FEATURES, VERSION, 8, u64((1L << 32) | (1L << F_PROTOCOL_FEATURES)), new int[0]);
            fe.send(SET_MEM_TABLE, VERSION | FLAG_NEED_REPLY, 40, memTable(), new int[] {memFd});
            FrontEnd.Reply ack = fe.read(deadline, "SET_MEM_TABLE of the fresh front-end");
            Oracle.check(ack != null && ack.request() == SET_MEM_TABLE && ByteBuffer.wrap(ack.payload())
                    .order(ByteOrder.LITTLE_ENDIAN).getLong(0) == 0, "fresh front-end: SET_MEM_TABLE refused");
            ramSegment.asSlice(0, 0x4000).fill((byte) 0);
            availIdx[0] = 0;
            Native.drainEventFd(callFds[0], scratch);
            fe.send(SET_VRING_NUM, VERSION, 8, state(0, RING_SIZE), new int[0]);
            fe.send(SET_VRING_BASE, VERSION, 8, state(0, 0), new int[0]);
            fe.send(SET_VRING_ADDR, VERSION, 40, vringAddr(0), new int[0]);
            fe.send(SET_VRING_KICK, VERSION, 8, u64(0), new int[] {kickFds[0]});
            fe.send(SET_VRING_CALL, VERSION, 8, u64(0), new int[] {callFds[0]});
            fe.send(SET_VRING_ENABLE, VERSION | FLAG_NEED_REPLY, 8, state(0, 1), new int[0]);
            ack = fe.read(deadline, "SET_VRING_ENABLE of the fresh front-end");
            Oracle.check(ack != null && ack.request() == SET_VRING_ENABLE && ByteBuffer.wrap(ack.payload())
                    .order(ByteOrder.LITTLE_ENDIAN).getLong(0) == 0, "fresh front-end: SET_VRING_ENABLE refused");
            Oracle.check(device.status() == (DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK
                    | DeviceStatus.DRIVER_OK), "fresh front-end: device status 0x" + Integer.toHexString(device.status()));
            post(0, 0, 7, 16);
            kick(0);
            Native.setPollFd(pollFd, 0, callFds[0]);
            long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
            Oracle.check(Native.poll(pollFd, 1, (int) left) > 0, "fresh front-end: no call within the bound, used idx "
                    + usedIdx(0) + ", " + device + " " + device.queueInfo(0));
            Oracle.check(usedIdx(0) == 1, "fresh front-end: used idx " + usedIdx(0));
            byte[] data = new byte[16];
            ram.read(BUFFERS + 0x800, data, 0, 16);
            int sum = 28; // 1 + 2 + ... + 7
            for (int i = 0; i < 16; i++) {
                Oracle.check(data[i] == FuzzDevice.fill(sum, i), "fresh front-end: wrong data at " + i);
            }
        } catch (IOException | GuestMemoryException e) {
            throw new Finding("fresh front-end failed: " + e, e);
        }
        awaitDisconnected("the fresh front-end");
        SevereLog.checkNone("end of input");
    }

    @Override
    public void close() {
        backend.close();
        for (int i = 0; i < RINGS; i++) {
            Native.closeQuietly(kickFds[i]);
            Native.closeQuietly(callFds[i]);
            Native.closeQuietly(errFds[i]);
        }
        Native.closeQuietly(memFd);
        arena.close();
        try {
            Files.deleteIfExists(dir.resolve("fuzz.sock"));
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // A temp directory left behind.
        }
    }
}
