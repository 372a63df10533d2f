package dev.peridot.virtio.console;

import java.util.List;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One virtio console device, as the host sees it: its ports, their data and their size. Each
 * console device registers one such service with {@code virtio.device.name}; the shell's
 * {@code console:*} commands call it. Every method may be called from any thread and never
 * waits for the guest or a backend.
 */
@ProviderType
public interface VirtioConsole {

    /** The device's name ({@code virtio.device.name}). */
    String deviceName();

    /** {@code max_nr_ports}: port numbers are 0 to this - 1. */
    int maxPorts();

    /** Whether the device offers VIRTIO_CONSOLE_F_MULTIPORT (ports other than 0 need it). */
    boolean multiportOffered();

    /** Snapshots of every configured port, by number. */
    List<PortInfo> ports();

    /** A snapshot of port {@code id}, if it exists. */
    Optional<PortInfo> port(int id);

    /**
     * Host to guest: puts {@code data} into the port's host-to-guest buffer (for any backend
     * type) and returns how many bytes it accepted; fewer than {@code data.length} when the
     * buffer is full (nothing is dropped: the caller sends the rest later).
     *
     * @throws IllegalArgumentException if the port does not exist
     */
    int send(int port, byte[] data);

    /**
     * Guest to host: for a port with the in-memory backend, takes up to {@code maxBytes} of what
     * the guest wrote (in order, each byte once) and frees that space for the guest. For other
     * backends the data goes to the backend; this returns (and clears) a copy of the most recent
     * output the backend passed on (at most 16 KiB), for inspection.
     *
     * @throws IllegalArgumentException if the port does not exist
     */
    byte[] read(int port, int maxBytes);

    /**
     * Sets the console size of a port. For port 0 the configuration fields cols/rows change with
     * a generation bump and a configuration change notification (single-port guests, spec
     * 5.3.6 item 3); with MULTIPORT negotiated a console port gets a RESIZE control message.
     * Needs VIRTIO_CONSOLE_F_SIZE to reach the guest; the size is kept either way.
     *
     * @throws IllegalArgumentException if the port does not exist or a value is outside 0..65535
     */
    void resize(int port, int cols, int rows);

    /**
     * Adds a port (hot-plug: a guest that has sent DEVICE_READY gets PORT_ADD at once) and
     * returns its number. A spec with id 0 reconfigures port 0 (its backend, name, console flag
     * and overflow policy; a changed name or console flag reaches the guest after its next reset).
     *
     * @throws IllegalArgumentException if the id is not below {@link #maxPorts()}, or is not 0 and
     *                                  MULTIPORT is not offered
     * @throws IllegalStateException    if the port exists already or no number is free
     */
    int addPort(PortSpec spec);

    /**
     * Removes a port (PORT_REMOVE to the guest if it was announced); its backend passes on what
     * the guest already wrote, then closes. {@code removePort(0)} returns port 0 to the console's
     * own configuration instead. Returns whether the port existed.
     */
    boolean removePort(int id);
}
