package dev.peridot.virtio.transport.vhostuser.internal;

/**
 * The front-end broke the vhost-user protocol: a malformed header, a payload of the wrong size
 * for its request, descriptors that should not be there, a bad memory table, an index beyond
 * the device's queues, an address no region translates, or a message out of order. The
 * back-end logs it and closes the connection; the device and the runtime carry on.
 */
public final class ProtocolException extends Exception {

    public ProtocolException(String message) {
        super(message, null, false, false);
    }
}
