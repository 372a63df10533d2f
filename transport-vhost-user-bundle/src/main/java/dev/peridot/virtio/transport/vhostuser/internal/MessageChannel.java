package dev.peridot.virtio.transport.vhostuser.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Reads and writes vhost-user messages on one connected socket. Reads wait in {@code poll}
 * together with a stop eventfd, so that the back-end can end a connection that is blocked on
 * a silent front-end. Every size is checked before it is used; nothing is allocated from a
 * size the peer chose beyond {@link VhostUserProtocol#MAX_PAYLOAD}.
 *
 * <p>Used by the connection thread only.
 */
public final class MessageChannel implements AutoCloseable {

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The connection ended (end of stream, or the back-end is stopping). */
    public static final class ClosedException extends IOException {
        public ClosedException(String message) {
            super(message, null);
        }
    }

    private final int socketFd;
    private final int stopFd;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buffer = arena.allocate(VhostUserProtocol.HEADER_SIZE + VhostUserProtocol.MAX_PAYLOAD, 8);
    private final MemorySegment pollFds = arena.allocate(2 * Native.POLLFD_SIZE, 4);
    private final int[] fds = new int[VhostUserProtocol.MAX_FDS];
    /** Descriptors received for the message being read, not yet owned by a {@link Message}. */
    private int received;
    private boolean closed;

    /**
     * @param socketFd the connected socket; closed by {@link #close()}
     * @param stopFd   an eventfd that, once signalled, makes every wait end (not closed here)
     */
    public MessageChannel(int socketFd, int stopFd) {
        this.socketFd = socketFd;
        this.stopFd = stopFd;
    }

    /**
     * Reads the next message. Returns after the whole message arrived; a header and payload
     * that break {@link MessageRules} give a {@link ProtocolException} (with the message's
     * descriptors already closed).
     *
     * @throws ClosedException at end of stream or when the back-end stops
     */
    public Message read() throws IOException, ProtocolException {
        received = 0;
        try {
            readFully(0, VhostUserProtocol.HEADER_SIZE, true);
            int request = buffer.get(U32, 0);
            int flags = buffer.get(U32, 4);
            int size = buffer.get(U32, 8);
            MessageRules.checkHeader(request, flags, size);
            readFully(VhostUserProtocol.HEADER_SIZE, size, false);
            byte[] payload = buffer.asSlice(VhostUserProtocol.HEADER_SIZE, size).toArray(ValueLayout.JAVA_BYTE);
            Message message = new Message(request, flags, payload, Arrays.copyOf(fds, received));
            received = 0; // The message owns them now.
            try {
                MessageRules.checkMessage(message);
            } catch (ProtocolException e) {
                message.closeUntakenFds();
                throw e;
            }
            return message;
        } finally {
            for (int i = 0; i < received; i++) {
                Native.closeQuietly(fds[i]);
            }
            received = 0;
        }
    }

    /** Reads exactly {@code length} bytes at {@code offset} of the buffer, collecting descriptors in {@link #fds}. */
    private void readFully(long offset, long length, boolean atMessageStart) throws IOException, ProtocolException {
        long done = 0;
        while (done < length) {
            awaitReadable();
            Native.ReceiveResult r = Native.receive(socketFd, buffer.asSlice(offset + done), length - done, fds, received);
            received += r.fds();
            if (r.truncated()) {
                throw new ProtocolException("more than " + VhostUserProtocol.MAX_FDS
                        + " descriptors in one message (the kernel dropped the rest)");
            }
            if (r.bytes() == 0) {
                if (atMessageStart && done == 0) {
                    throw new ClosedException("the front-end closed the connection");
                }
                throw new ClosedException("the front-end closed the connection in the middle of a message");
            }
            done += r.bytes();
        }
    }

    private void awaitReadable() throws IOException {
        while (true) {
            Native.setPollFd(pollFds, 0, socketFd);
            Native.setPollFd(pollFds, 1, stopFd);
            int n = Native.poll(pollFds, 2, -1);
            if (n <= 0) {
                continue;
            }
            if (Native.polledEvents(pollFds, 1) != 0) {
                throw new ClosedException("the back-end is stopping");
            }
            if (Native.polledEvents(pollFds, 0) != 0) {
                return; // Readable, or hang-up/error: recvmsg tells which.
            }
        }
    }

    /** Sends a reply: the request code, flags VERSION|REPLY, and {@code payload}. */
    public void reply(int request, byte[] payload) throws IOException {
        send(request, VhostUserProtocol.VERSION | VhostUserProtocol.FLAG_REPLY, payload, new int[0]);
    }

    /** Sends a message (a test front-end uses this with its own flags and descriptors). */
    public void send(int request, int flags, byte[] payload, int[] fdsToSend) throws IOException {
        try (Arena out = Arena.ofConfined()) {
            MemorySegment m = out.allocate(VhostUserProtocol.HEADER_SIZE + payload.length, 8);
            m.set(U32, 0, request);
            m.set(U32, 4, flags);
            m.set(U32, 8, payload.length);
            MemorySegment.copy(payload, 0, m, ValueLayout.JAVA_BYTE, VhostUserProtocol.HEADER_SIZE, payload.length);
            Native.send(socketFd, m, m.byteSize(), fdsToSend);
        }
    }

    /** Closes the socket; idempotent (a descriptor number closed twice could hit someone else's). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Native.closeQuietly(socketFd);
        arena.close();
    }
}
