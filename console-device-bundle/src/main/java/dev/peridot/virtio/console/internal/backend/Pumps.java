package dev.peridot.virtio.console.internal.backend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** The two copy loops every stream backend runs on its own threads. */
final class Pumps {

    /** How long a pump waits before it checks whether it should stop. */
    static final long POLL_MILLIS = 50;
    static final int CHUNK = 64 * 1024;

    private Pumps() {
    }

    /**
     * Passes the guest's output on to {@code out} while {@code running} says so. Bytes leave the
     * buffer only once the channel took them, so a failed write loses nothing that was not sent.
     *
     * @throws IOException if the channel fails
     */
    static void output(PortEndpoint endpoint, WritableByteChannel out, BooleanSupplier running)
            throws IOException, InterruptedException {
        ByteRing ring = endpoint.fromGuest();
        byte[] chunk = new byte[CHUNK];
        ByteBuffer buffer = ByteBuffer.wrap(chunk);
        while (running.getAsBoolean()) {
            if (!ring.awaitData(POLL_MILLIS, TimeUnit.MILLISECONDS)) {
                continue;
            }
            int n = ring.peek(chunk, 0, chunk.length);
            buffer.clear().limit(n);
            try {
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
            } finally {
                int written = buffer.position();
                if (written > 0) {
                    ring.commit(written);
                    endpoint.passedOn(chunk, 0, written);
                }
            }
        }
    }

    /**
     * Passes what {@code in} delivers into the host-to-guest buffer, waiting for space (so a
     * guest that does not read slows the source down), until end of stream or until
     * {@code running} says stop.
     *
     * @return true at end of stream
     * @throws IOException if the channel fails
     */
    static boolean input(PortEndpoint endpoint, ReadableByteChannel in, BooleanSupplier running)
            throws IOException, InterruptedException {
        ByteRing ring = endpoint.toGuest();
        byte[] chunk = new byte[CHUNK];
        ByteBuffer buffer = ByteBuffer.wrap(chunk);
        while (running.getAsBoolean()) {
            buffer.clear();
            int n = in.read(buffer);
            if (n < 0) {
                return true;
            }
            int off = 0;
            while (off < n && running.getAsBoolean()) {
                off += ring.offer(chunk, off, n - off);
                if (off < n) {
                    ring.awaitSpace(POLL_MILLIS, TimeUnit.MILLISECONDS);
                }
            }
        }
        return false;
    }
}
