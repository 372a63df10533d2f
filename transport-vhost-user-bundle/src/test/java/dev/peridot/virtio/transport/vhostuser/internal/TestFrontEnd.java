package dev.peridot.virtio.transport.vhostuser.internal;

import dev.peridot.virtio.testing.DriverRing;

import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;

import dev.peridot.virtio.memory.MemoryRegion;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A minimal vhost-user front-end for tests, in the role QEMU plays: guest RAM in a memfd it
 * shares with SET_MEM_TABLE, rings laid out in that RAM, eventfds for kicks and calls. Its own
 * "user addresses" are made up ({@link #USER_BASE}), so a back-end that forgot to translate
 * them would fail.
 */
// Restricted FFM methods (downcalls, reinterpret) are the point of this class; the runtime
// grants native access (--enable-native-access=ALL-UNNAMED, toolchain.md pitfall 3).
@SuppressWarnings("restricted")
public final class TestFrontEnd implements AutoCloseable {

    public static final long RAM_GPA = 0x10_0000L;
    public static final long RAM_SIZE = 4L << 20;
    /** The front-end's pretend virtual address of guest RAM. */
    public static final long USER_BASE = 0x7f00_1234_0000L;
    public static final int RING_SIZE = 256;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MEMFD_CREATE = LINKER.downcallHandle(LINKER.defaultLookup().find("memfd_create").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = LINKER.downcallHandle(LINKER.defaultLookup().find("ftruncate").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));

    public final int memFd;
    public final SegmentGuestMemory ram;
    private final long mapping;
    private final int socketFd;
    private final MessageChannel channel;
    private final int neverStop;
    private final Arena arena = Arena.ofShared();
    public final int[] kickFds = new int[2];
    public final int[] callFds = new int[2];
    public final int[] errFds = new int[2];
    private final MemorySegment scratch = arena.allocate(8, 8);
    private final MemorySegment one = arena.allocate(8, 8);
    public final DriverRing[] rings = new DriverRing[2];
    private long nextBuffer = RAM_GPA + 0x20_0000L;

    public TestFrontEnd(String socketPath) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            memFd = (int) MEMFD_CREATE.invokeExact(a.allocateFrom("peridot-test-ram"), 1 /* MFD_CLOEXEC */);
            if (memFd < 0 || (int) FTRUNCATE.invokeExact(memFd, RAM_SIZE) != 0) {
                throw new IOException("memfd_create/ftruncate failed");
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
        mapping = Native.mapShared(memFd, 0, RAM_SIZE);
        MemorySegment seg = MemorySegment.ofAddress(mapping).reinterpret(RAM_SIZE, arena, s -> Native.unmap(mapping, RAM_SIZE));
        ram = SegmentGuestMemory.of(List.of(new MemoryRegion(RAM_GPA, seg, "test-ram")));
        socketFd = Native.connectUnix(socketPath);
        neverStop = Native.eventFd();
        channel = new MessageChannel(socketFd, neverStop);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        for (int i = 0; i < 2; i++) {
            kickFds[i] = Native.eventFd();
            callFds[i] = Native.eventFd();
            errFds[i] = Native.eventFd();
            rings[i] = DriverRing.at(ram, RING_SIZE, RAM_GPA + i * 0x1_0000L);
        }
    }

    // ---------------------------------------------------------------- raw messages

    public void send(int request, int flags, byte[] payload, int... fds) throws IOException {
        channel.send(request, flags, payload, fds);
    }

    public void send(int request, byte[] payload, int... fds) throws IOException {
        send(request, VERSION, payload, fds);
    }

    /** Sends with NEED_REPLY and returns the REPLY_ACK value. */
    public long sendAcked(int request, byte[] payload, int... fds) throws IOException {
        send(request, VERSION | FLAG_NEED_REPLY, payload, fds);
        return replyU64(request);
    }

    /** Reads a reply: checks its header, returns the payload. */
    public ByteBuffer reply(int request) throws IOException {
        MemorySegment header = readExactly(HEADER_SIZE);
        ByteBuffer h = header.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        if (h.getInt(0) != request || h.getInt(4) != (VERSION | FLAG_REPLY)) {
            throw new IOException("unexpected reply header: request " + h.getInt(0) + " flags 0x"
                    + Integer.toHexString(h.getInt(4)) + " (expected " + name(request) + ")");
        }
        int size = h.getInt(8);
        return ByteBuffer.wrap(readExactly(size).toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN);
    }

    public long replyU64(int request) throws IOException {
        return reply(request).getLong(0);
    }

    private MemorySegment readExactly(int length) throws IOException {
        MemorySegment buf = arena.allocate(Math.max(1, length), 8);
        long done = 0;
        while (done < length) {
            Native.ReceiveResult r = Native.receive(socketFd, buf.asSlice(done), length - done, new int[0], 0);
            if (r.bytes() == 0) {
                throw new IOException("the back-end closed the connection");
            }
            done += r.bytes();
        }
        return buf;
    }

    /** Whether the back-end closed the connection (waits up to the timeout for end of stream). */
    public boolean closedByBackend(int timeoutMillis) throws IOException {
        MemorySegment pfd = arena.allocate(Native.POLLFD_SIZE, 4);
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            Native.setPollFd(pfd, 0, socketFd);
            if (Native.poll(pfd, 1, 100) > 0) {
                MemorySegment b = arena.allocate(64);
                try {
                    Native.ReceiveResult r = Native.receive(socketFd, b, 64, new int[0], 0);
                    if (r.bytes() == 0) {
                        return true;
                    }
                } catch (IOException e) {
                    return true; // ECONNRESET
                }
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- payload builders

    public static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v).array();
    }

    public static byte[] state(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0, index).putInt(4, num).array();
    }

    public static byte[] memTable(long... regionQuads) {
        int n = regionQuads.length / 4;
        ByteBuffer b = ByteBuffer.allocate(8 + 32 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, n);
        for (int i = 0; i < regionQuads.length; i++) {
            b.putLong(8 + 8 * i, regionQuads[i]);
        }
        return b.array();
    }

    /** The one-region table of this front-end's RAM. */
    public byte[] ramTable() {
        return memTable(RAM_GPA, RAM_SIZE, USER_BASE, 0);
    }

    public long userAddress(long gpa) {
        return gpa - RAM_GPA + USER_BASE;
    }

    public byte[] vringAddr(int index) {
        DriverRing r = rings[index];
        return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(0, index).putInt(4, 0)
                .putLong(8, userAddress(r.desc)).putLong(16, userAddress(r.used)).putLong(24, userAddress(r.avail))
                .putLong(32, 0).array();
    }

    // ---------------------------------------------------------------- QEMU's sequences

    /** What QEMU does at start: features, protocol features (REPLY_ACK, MQ, CONFIG if offered), owner, call/err fds. */
    public long handshake() throws IOException {
        send(GET_FEATURES, new byte[0]);
        long features = replyU64(GET_FEATURES);
        send(GET_PROTOCOL_FEATURES, new byte[0]);
        long protocol = replyU64(GET_PROTOCOL_FEATURES);
        send(SET_PROTOCOL_FEATURES, u64(protocol));
        send(SET_OWNER, new byte[0]);
        for (int q = 0; q < 2; q++) {
            send(SET_VRING_CALL, u64(q), callFds[q]);
            send(SET_VRING_ERR, u64(q), errFds[q]);
        }
        return features;
    }

    /** What QEMU does at the guest's DRIVER_OK for ring {@code q}: features, memory, ring, kick, enable. */
    public void startRing(int q, long features, int base) throws IOException {
        send(SET_FEATURES, u64(features));
        if (sendAcked(SET_MEM_TABLE, ramTable(), memFd) != 0) {
            throw new IOException("SET_MEM_TABLE failed");
        }
        send(SET_VRING_NUM, state(q, RING_SIZE));
        send(SET_VRING_BASE, state(q, base));
        send(SET_VRING_ADDR, vringAddr(q));
        send(SET_VRING_KICK, u64(q), kickFds[q]);
        send(SET_VRING_CALL, u64(q), callFds[q]);
        if (sendAcked(SET_VRING_ENABLE, state(q, 1)) != 0) {
            throw new IOException("SET_VRING_ENABLE failed");
        }
    }

    /** What QEMU does at a guest reset: disable, then GET_VRING_BASE; returns the base. */
    public int stopRing(int q) throws IOException {
        sendAcked(SET_VRING_ENABLE, state(q, 0));
        send(GET_VRING_BASE, state(q, 0));
        ByteBuffer r = reply(GET_VRING_BASE);
        if (r.getInt(0) != q) {
            throw new IOException("GET_VRING_BASE answered for ring " + r.getInt(0));
        }
        return r.getInt(4);
    }

    public void kick(int q) {
        Native.signalEventFd(kickFds[q], one);
    }

    /** Waits until the call eventfd of ring {@code q} is signalled (and resets it). */
    public boolean awaitCall(int q, int timeoutMillis) throws IOException {
        return awaitEventFd(callFds[q], timeoutMillis);
    }

    public boolean awaitError(int q, int timeoutMillis) throws IOException {
        return awaitEventFd(errFds[q], timeoutMillis);
    }

    private boolean awaitEventFd(int fd, int timeoutMillis) throws IOException {
        MemorySegment pfd = arena.allocate(Native.POLLFD_SIZE, 4);
        Native.setPollFd(pfd, 0, fd);
        if (Native.poll(pfd, 1, timeoutMillis) > 0) {
            Native.drainEventFd(fd, scratch);
            return true;
        }
        return false;
    }

    /** A fresh writable buffer in guest RAM. */
    public long buffer(int length) {
        long at = nextBuffer;
        nextBuffer = (nextBuffer + length + 63) & ~63L;
        return at;
    }

    public byte[] read(long gpa, int length) {
        byte[] b = new byte[length];
        try {
            ram.read(gpa, b, 0, length);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return b;
    }

    /**
     * Shrinks the memory file under the back-end's mapping (a hostile front-end): every access to the
     * truncated part then faults, in the back-end as well as here, so this side must not touch {@link #ram} again.
     */
    public void shrinkMemoryFile(long newSize) throws IOException {
        try {
            if ((int) FTRUNCATE.invokeExact(memFd, newSize) != 0) {
                throw new IOException("ftruncate failed");
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    /** Closes the connection abruptly (as a killed QEMU would), keeping the RAM for inspection. */
    public void disconnect() {
        channel.close();
    }

    @Override
    public void close() {
        channel.close();
        Native.closeQuietly(neverStop);
        for (int i = 0; i < 2; i++) {
            Native.closeQuietly(kickFds[i]);
            Native.closeQuietly(callFds[i]);
            Native.closeQuietly(errFds[i]);
        }
        Native.closeQuietly(memFd);
        arena.close();
    }
}
