package dev.peridot.virtio.console;

/**
 * A snapshot of one port.
 *
 * @param id                 the port number
 * @param name               the name sent with PORT_NAME, or empty
 * @param console            whether it is a console port
 * @param backendType        memory, tcp, unix, file or stdio
 * @param backendDescription where the backend is, for example {@code tcp server 127.0.0.1:40321}
 * @param backendState       the backend's state, for example {@code listening}, {@code connected 127.0.0.1:5555}
 * @param hostOpen           whether the host side is connected (what PORT_OPEN tells the guest)
 * @param guestOpen          whether the guest has the port open (its PORT_OPEN; always true for port 0 without MULTIPORT)
 * @param announced          whether the guest knows the port (PORT_ADD sent; port 0 without MULTIPORT once the driver is live)
 * @param ready              whether the guest answered PORT_READY(1) (or port 0 without MULTIPORT with a live driver)
 * @param bytesFromGuest     bytes the device took from the guest's transmit buffers (guest to host)
 * @param bytesToGuest       bytes the device wrote into the guest's receive buffers (host to guest)
 * @param bytesToBackend     bytes the backend passed on (written to the socket or file, or read through {@link VirtioConsole#read})
 * @param droppedBytes       bytes discarded by the drop-oldest policy (0 with back-pressure)
 * @param discardedBytes     guest output discarded because the port was removed while the guest still had buffers queued
 * @param emergencyDrops     emergency-write bytes (port 0) that found its buffer full
 * @param bufferedFromGuest  bytes waiting in the guest-to-host buffer
 * @param bufferedToGuest    bytes waiting in the host-to-guest buffer
 * @param fromGuestCapacity  capacity of the guest-to-host buffer
 * @param toGuestCapacity    capacity of the host-to-guest buffer
 * @param overflow           the overflow policy of the guest-to-host direction
 * @param cols               the console width last set for the port
 * @param rows               the console height last set for the port
 */
public record PortInfo(int id, String name, boolean console, String backendType, String backendDescription,
                       String backendState, boolean hostOpen, boolean guestOpen, boolean announced, boolean ready,
                       long bytesFromGuest, long bytesToGuest, long bytesToBackend, long droppedBytes,
                       long discardedBytes, long emergencyDrops, int bufferedFromGuest, int bufferedToGuest,
                       int fromGuestCapacity, int toGuestCapacity, OverflowPolicy overflow, int cols, int rows) {
}
