package dev.peridot.virtio.fuzz.support;

import dev.peridot.virtio.transport.vhostuser.internal.Native;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The socket side of a vhost-user front-end for the fuzz target: sends messages (header, payload,
 * descriptors) exactly as given, including malformed ones, and reads replies with a deadline.
 * Uses the transport's own FFM socket calls.
 */
public final class FrontEnd implements AutoCloseable {

    /** A reply frame: request code, flags and payload. */
    public record Reply(int request, int flags, byte[] payload) {
    }

    private final int socket;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment pollFd = arena.allocate(Native.POLLFD_SIZE, 4);
    private final MemorySegment buffer = arena.allocate(64 * 1024, 8);
    private boolean closed;

    public FrontEnd(String socketPath) throws IOException {
        this.socket = Native.connectUnix(socketPath);
    }

    /** Sends raw bytes with descriptors (the bytes may be anything: a header, a partial message, garbage). */
    public void sendRaw(byte[] bytes, int[] fds) throws IOException {
        MemorySegment m = arena.allocate(Math.max(1, bytes.length), 8);
        MemorySegment.copy(bytes, 0, m, ValueLayout.JAVA_BYTE, 0, bytes.length);
        Native.send(socket, m, bytes.length, fds);
    }

    /** Sends a message whose header says {@code size} payload bytes (normally {@code payload.length}). */
    public void send(int request, int flags, int size, byte[] payload, int[] fds) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(12 + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(request).putInt(flags).putInt(size).put(payload);
        sendRaw(b.array(), fds);
    }

    /**
     * Reads the next reply, waiting until {@code deadlineNanos}. Returns null at end of stream
     * (the back-end closed the connection); throws {@link Finding.TooSlow} at the deadline.
     */
    public Reply read(long deadlineNanos, String waitingFor) throws IOException {
        byte[] header = readExactly(12, deadlineNanos, waitingFor);
        if (header == null) {
            return null;
        }
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        int size = h.getInt(8);
        Oracle.check(size >= 0 && size <= 4096, "the back-end sent a reply with payload size " + size);
        byte[] payload = readExactly(size, deadlineNanos, waitingFor);
        Oracle.check(payload != null, "the back-end closed the connection in the middle of a reply");
        return new Reply(h.getInt(0), h.getInt(4), payload);
    }

    private byte[] readExactly(int length, long deadlineNanos, String waitingFor) throws IOException {
        byte[] out = new byte[length];
        int done = 0;
        while (done < length) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                throw new Finding.TooSlow("no answer from the back-end within the bound (waiting for " + waitingFor + ")");
            }
            Native.setPollFd(pollFd, 0, socket);
            int n = Native.poll(pollFd, 1, (int) Math.max(1, left / 1_000_000));
            if (n <= 0) {
                continue;
            }
            Native.ReceiveResult r;
            try {
                r = Native.receive(socket, buffer, length - done, new int[0], 0);
            } catch (IOException e) {
                return null; // ECONNRESET: the back-end closed the connection.
            }
            if (r.bytes() == 0) {
                return null;
            }
            MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, out, done, (int) r.bytes());
            done += (int) r.bytes();
        }
        return out;
    }

    /** Closes the connection (as a front-end that goes away does). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Native.closeQuietly(socket);
            arena.close();
        }
    }
}
