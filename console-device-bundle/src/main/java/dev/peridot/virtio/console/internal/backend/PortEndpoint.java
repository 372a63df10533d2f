package dev.peridot.virtio.console.internal.backend;

/** What a backend sees of its port: the two buffers and the signals back to the device. */
public interface PortEndpoint {

    /** Host-to-guest buffer: the backend's reader offers into it (waiting for space on its own thread). */
    ByteRing toGuest();

    /** Guest-to-host buffer: the backend's writer peeks, writes and commits. */
    ByteRing fromGuest();

    /** The backend's host side connected or disconnected (the device sends PORT_OPEN). */
    void connectionChanged();

    /** The backend passed {@code data[off..off+len)} on: counted, and kept in the recent-output tap. */
    void passedOn(byte[] data, int off, int len);

    /** A label for thread names and logs, for example {@code console0/port1}. */
    String label();
}
