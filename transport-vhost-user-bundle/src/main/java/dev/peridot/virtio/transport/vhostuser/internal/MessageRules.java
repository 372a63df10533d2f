package dev.peridot.virtio.transport.vhostuser.internal;

import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;

/**
 * The shape every request must have, checked before any handler runs: the header flags, the
 * payload size per request type and the number of descriptors (vhost-user spec, "Message
 * specification" and the per-message payload descriptions). State-dependent rules (order,
 * queue indices, translatable addresses) are checked by the session.
 */
public final class MessageRules {

    private MessageRules() {
    }

    /** Checks a header before its payload is read, so that a bad size never drives an allocation. */
    public static void checkHeader(int request, int flags, int size) throws ProtocolException {
        if ((flags & VERSION_MASK) != VERSION) {
            throw new ProtocolException(String.format("%s: unsupported protocol version %d in flags 0x%x",
                    name(request), flags & VERSION_MASK, flags));
        }
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw new ProtocolException(String.format("%s: reserved flag bits set in 0x%x", name(request), flags));
        }
        if ((flags & FLAG_REPLY) != 0) {
            throw new ProtocolException(name(request) + ": a front-end request is flagged as a reply");
        }
        if (size < 0 || size > MAX_PAYLOAD) {
            throw new ProtocolException(String.format("%s: payload size %d exceeds the largest message (%d bytes)",
                    name(request), Integer.toUnsignedLong(size), MAX_PAYLOAD));
        }
    }

    /** Checks the payload size and descriptor count of a complete message. */
    public static void checkMessage(Message m) throws ProtocolException {
        int size = m.size();
        int fds = m.fdCount();
        switch (m.request()) {
            case GET_FEATURES, GET_PROTOCOL_FEATURES, SET_OWNER, RESET_OWNER, GET_QUEUE_NUM -> expect(m, 0, 0);
            case SET_FEATURES, SET_PROTOCOL_FEATURES -> expect(m, 8, 0);
            case SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE -> expect(m, 8, 0);
            case SET_VRING_ADDR -> expect(m, 40, 0);
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> {
                if (size != 8) {
                    throw wrongSize(m, "8");
                }
                boolean noFd = (m.u64(0) & VRING_NOFD_MASK) != 0;
                if (fds != (noFd ? 0 : 1)) {
                    throw new ProtocolException(String.format("%s: %d descriptors with %s", name(m.request()), fds,
                            noFd ? "the no-descriptor flag set (expected 0)" : "the no-descriptor flag clear (expected 1)"));
                }
            }
            case SET_MEM_TABLE -> {
                if (size < 8) {
                    throw wrongSize(m, "8 + 32 * regions");
                }
                long regions = Integer.toUnsignedLong(m.u32(0));
                if (regions < 1 || regions > MAX_MEMORY_REGIONS) {
                    throw new ProtocolException(name(m.request()) + ": " + regions + " regions; 1 to "
                            + MAX_MEMORY_REGIONS + " are allowed");
                }
                if (size != 8 + regions * MEMORY_REGION_SIZE) {
                    throw wrongSize(m, (8 + regions * MEMORY_REGION_SIZE) + " for " + regions + " regions");
                }
                if (fds != regions) {
                    throw new ProtocolException(name(m.request()) + ": " + fds + " descriptors for " + regions + " regions");
                }
            }
            case GET_CONFIG, SET_CONFIG -> {
                if (size < 12) {
                    throw wrongSize(m, "12 + config size");
                }
                long configSize = Integer.toUnsignedLong(m.u32(4));
                if (configSize > MAX_CONFIG_SIZE || size != 12 + configSize) {
                    throw new ProtocolException(String.format("%s: config size %d in a %d-byte payload (at most %d)",
                            name(m.request()), configSize, size, MAX_CONFIG_SIZE));
                }
                if (fds != 0) {
                    throw new ProtocolException(name(m.request()) + ": unexpected descriptors");
                }
            }
            default -> throw new ProtocolException(name(m.request())
                    + ": request not supported (its feature was never offered)");
        }
    }

    private static void expect(Message m, int size, int fds) throws ProtocolException {
        if (m.size() != size) {
            throw wrongSize(m, Integer.toString(size));
        }
        if (m.fdCount() != fds) {
            throw new ProtocolException(name(m.request()) + ": " + m.fdCount() + " descriptors, expected " + fds);
        }
    }

    private static ProtocolException wrongSize(Message m, String expected) {
        return new ProtocolException(name(m.request()) + ": payload of " + m.size() + " bytes, expected " + expected);
    }
}
