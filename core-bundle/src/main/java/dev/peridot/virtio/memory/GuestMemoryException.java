package dev.peridot.virtio.memory;

/**
 * A guest-memory access that no region can serve: outside guest RAM, spanning a hole, with a
 * negative or overflowing length, or to a region that has been unmapped.
 *
 * <p>It is checked on purpose: every caller decides what a bad guest address means (for a
 * device, usually DEVICE_NEEDS_RESET). It carries no stack trace, because a hostile driver can
 * make it frequent.
 */
public final class GuestMemoryException extends Exception {

    private final long address;
    private final long length;

    public GuestMemoryException(String message, long address, long length) {
        super(message + String.format(" [address 0x%x, length %d]", address, length), null, false, false);
        this.address = address;
        this.length = length;
    }

    /** The guest-physical address of the refused access. */
    public long address() {
        return address;
    }

    /** The length in bytes of the refused access. */
    public long length() {
        return length;
    }
}
