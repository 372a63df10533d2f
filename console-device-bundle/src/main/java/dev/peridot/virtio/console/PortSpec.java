package dev.peridot.virtio.console;

import java.util.Objects;

/**
 * The host's description of one console port.
 *
 * @param id              the port number, 0 to max_nr_ports - 1, or {@link #AUTO_ID} for the
 *                        lowest free number from 1. Port 0 always exists; adding a spec with
 *                        id 0 reconfigures it.
 * @param name            the port's name, sent to the guest with PORT_NAME (Linux shows the
 *                        port as /dev/virtio-ports/NAME); empty for none
 * @param console         whether the port is a console (CONSOLE_PORT: Linux makes it an hvc)
 * @param backend         where its data goes
 * @param toGuestBuffer   bytes buffered from the host towards the guest (at least 1)
 * @param fromGuestBuffer bytes buffered from the guest towards the host (at least 1)
 * @param overflow        what happens when the guest-to-host buffer is full
 */
public record PortSpec(int id, String name, boolean console, BackendSpec backend, int toGuestBuffer,
                       int fromGuestBuffer, OverflowPolicy overflow) {

    /** The {@link #id} that asks for the lowest free port number (from 1). */
    public static final int AUTO_ID = -1;
    /** Default host-to-guest buffer: 64 KiB. */
    public static final int DEFAULT_TO_GUEST_BUFFER = 64 * 1024;
    /** Default guest-to-host buffer: 256 KiB. */
    public static final int DEFAULT_FROM_GUEST_BUFFER = 256 * 1024;
    /** The largest buffer accepted: 64 MiB. */
    public static final int MAX_BUFFER = 64 << 20;

    public PortSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(overflow, "overflow");
        if (id < AUTO_ID) {
            throw new IllegalArgumentException("port id must be >= 0 (or AUTO_ID): " + id);
        }
        if (toGuestBuffer < 1 || toGuestBuffer > MAX_BUFFER || fromGuestBuffer < 1 || fromGuestBuffer > MAX_BUFFER) {
            throw new IllegalArgumentException("buffer sizes must be 1.." + MAX_BUFFER + " bytes");
        }
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a port name must not contain NUL");
        }
    }

    /** A port with an in-memory backend and the default buffers and policy. */
    public static PortSpec memory(int id, String name, boolean console) {
        return new PortSpec(id, name, console, new BackendSpec.Memory(), DEFAULT_TO_GUEST_BUFFER,
                DEFAULT_FROM_GUEST_BUFFER, OverflowPolicy.BACKPRESSURE);
    }

    public PortSpec withId(int newId) {
        return new PortSpec(newId, name, console, backend, toGuestBuffer, fromGuestBuffer, overflow);
    }

    public PortSpec withName(String newName) {
        return new PortSpec(id, newName, console, backend, toGuestBuffer, fromGuestBuffer, overflow);
    }

    public PortSpec withConsole(boolean newConsole) {
        return new PortSpec(id, name, newConsole, backend, toGuestBuffer, fromGuestBuffer, overflow);
    }

    public PortSpec withBackend(BackendSpec newBackend) {
        return new PortSpec(id, name, console, newBackend, toGuestBuffer, fromGuestBuffer, overflow);
    }

    public PortSpec withBuffers(int newToGuest, int newFromGuest) {
        return new PortSpec(id, name, console, backend, newToGuest, newFromGuest, overflow);
    }

    public PortSpec withOverflow(OverflowPolicy newOverflow) {
        return new PortSpec(id, name, console, backend, toGuestBuffer, fromGuestBuffer, newOverflow);
    }
}
