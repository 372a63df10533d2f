package dev.peridot.virtio.transport.vhostuser.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One vhost-user message as received: the request code, the header flags, the payload and the
 * file descriptors that came with it. The receiver owns the descriptors: a handler either keeps
 * one (and marks it taken) or {@link #closeUntakenFds()} closes it.
 */
public final class Message {

    private final int request;
    private final int flags;
    private final byte[] payload;
    private final int[] fds;

    public Message(int request, int flags, byte[] payload, int[] fds) {
        this.request = request;
        this.flags = flags;
        this.payload = payload;
        this.fds = fds;
    }

    public int request() {
        return request;
    }

    public int flags() {
        return flags;
    }

    public boolean needsReply() {
        return (flags & VhostUserProtocol.FLAG_NEED_REPLY) != 0;
    }

    public int size() {
        return payload.length;
    }

    public int fdCount() {
        return fds.length;
    }

    /** The payload, little-endian (the vhost-user byte order on the hosts QEMU supports here). */
    public ByteBuffer payload() {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    public long u64(int offset) {
        return payload().getLong(offset);
    }

    public int u32(int offset) {
        return payload().getInt(offset);
    }

    /** Takes descriptor {@code i}: the caller now owns it and must close it. */
    public int takeFd(int i) {
        int fd = fds[i];
        fds[i] = -1;
        return fd;
    }

    /** Closes every descriptor no handler took. */
    public void closeUntakenFds() {
        for (int i = 0; i < fds.length; i++) {
            Native.closeQuietly(fds[i]);
            fds[i] = -1;
        }
    }

    @Override
    public String toString() {
        return VhostUserProtocol.name(request) + " flags 0x" + Integer.toHexString(flags) + ", " + payload.length
                + " bytes, " + fds.length + " fds";
    }
}
