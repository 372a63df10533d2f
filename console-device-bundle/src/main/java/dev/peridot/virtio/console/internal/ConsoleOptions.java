package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.ConsoleConstants;
import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.ResizeOrder;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.queue.SplitRing;
import java.util.Objects;

/**
 * Everything a console device is built from (the console configuration, parsed).
 *
 * @param name         the device name
 * @param maxPorts     max_nr_ports, 1 to {@value ConsoleConstants#MAX_PORTS_LIMIT}; more than 1 needs MULTIPORT
 * @param size         offer VIRTIO_CONSOLE_F_SIZE
 * @param multiport    offer VIRTIO_CONSOLE_F_MULTIPORT (control queues and ports 1..)
 * @param emergWrite   offer VIRTIO_CONSOLE_F_EMERG_WRITE
 * @param eventIdx     offer VIRTIO_F_EVENT_IDX
 * @param indirectDesc offer VIRTIO_F_INDIRECT_DESC
 * @param ringReset    offer VIRTIO_F_RING_RESET
 * @param cols         initial console width of port 0 (and default of console ports)
 * @param rows         initial console height
 * @param resizeOrder  field order of RESIZE messages
 * @param queueSize    QueueNumMax of every queue (a power of 2)
 * @param port0        port 0 (its id is ignored)
 */
public record ConsoleOptions(String name, int maxPorts, boolean size, boolean multiport, boolean emergWrite,
                             boolean eventIdx, boolean indirectDesc, boolean ringReset, int cols, int rows,
                             ResizeOrder resizeOrder, int queueSize, PortSpec port0) {

    public ConsoleOptions {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(resizeOrder, "resizeOrder");
        Objects.requireNonNull(port0, "port0");
        if (name.isBlank()) {
            throw new IllegalArgumentException("a console needs a name");
        }
        if (maxPorts < 1 || maxPorts > ConsoleConstants.MAX_PORTS_LIMIT) {
            throw new IllegalArgumentException("max_nr_ports must be 1.." + ConsoleConstants.MAX_PORTS_LIMIT + ": " + maxPorts);
        }
        if (maxPorts > 1 && !multiport) {
            throw new IllegalArgumentException("max_nr_ports " + maxPorts + " needs VIRTIO_CONSOLE_F_MULTIPORT");
        }
        if (!SplitRing.isValidSize(queueSize)) {
            throw new IllegalArgumentException("queue size must be a power of 2 from 1 to 32768: " + queueSize);
        }
        if (cols < 0 || cols > 0xFFFF || rows < 0 || rows > 0xFFFF) {
            throw new IllegalArgumentException("cols and rows must be 0..65535");
        }
        port0 = port0.withId(0);
    }

    /** A single-port console (no MULTIPORT) with SIZE and EMERG_WRITE, 80x25, queues of 256, port 0 in memory. */
    public static ConsoleOptions defaults(String name) {
        return new ConsoleOptions(name, 1, true, false, true, true, true, true, 80, 25, ResizeOrder.COLS_ROWS, 256,
                PortSpec.memory(0, "", true));
    }

    /** A console with MULTIPORT and {@code maxPorts} ports. */
    public static ConsoleOptions multiport(String name, int maxPorts) {
        return defaults(name).withMultiport(true, maxPorts);
    }

    /** The features the device offers: VERSION_1, the chosen ring features and console features. */
    public FeatureSet offeredFeatures() {
        FeatureSet f = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1);
        if (eventIdx) {
            f = f.with(ReservedFeature.VIRTIO_F_EVENT_IDX);
        }
        if (indirectDesc) {
            f = f.with(ReservedFeature.VIRTIO_F_INDIRECT_DESC);
        }
        if (ringReset) {
            f = f.with(ReservedFeature.VIRTIO_F_RING_RESET);
        }
        if (size) {
            f = f.with(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE);
        }
        if (multiport) {
            f = f.with(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
        }
        if (emergWrite) {
            f = f.with(ConsoleFeature.VIRTIO_CONSOLE_F_EMERG_WRITE);
        }
        return f;
    }

    /** The number of queues: 2 without MULTIPORT, 2 * (max_nr_ports + 1) with it (spec 5.3.2). */
    public int queueCount() {
        return multiport ? 2 * (maxPorts + 1) : 2;
    }

    public ConsoleOptions withMultiport(boolean newMultiport, int newMaxPorts) {
        return new ConsoleOptions(name, newMaxPorts, size, newMultiport, emergWrite, eventIdx, indirectDesc, ringReset,
                cols, rows, resizeOrder, queueSize, port0);
    }

    public ConsoleOptions withFeatures(boolean newSize, boolean newEmergWrite) {
        return new ConsoleOptions(name, maxPorts, newSize, multiport, newEmergWrite, eventIdx, indirectDesc, ringReset,
                cols, rows, resizeOrder, queueSize, port0);
    }

    public ConsoleOptions withRingFeatures(boolean newEventIdx, boolean newIndirect, boolean newRingReset) {
        return new ConsoleOptions(name, maxPorts, size, multiport, emergWrite, newEventIdx, newIndirect, newRingReset,
                cols, rows, resizeOrder, queueSize, port0);
    }

    public ConsoleOptions withSize(int newCols, int newRows) {
        return new ConsoleOptions(name, maxPorts, size, multiport, emergWrite, eventIdx, indirectDesc, ringReset,
                newCols, newRows, resizeOrder, queueSize, port0);
    }

    public ConsoleOptions withResizeOrder(ResizeOrder newOrder) {
        return new ConsoleOptions(name, maxPorts, size, multiport, emergWrite, eventIdx, indirectDesc, ringReset,
                cols, rows, newOrder, queueSize, port0);
    }

    public ConsoleOptions withQueueSize(int newQueueSize) {
        return new ConsoleOptions(name, maxPorts, size, multiport, emergWrite, eventIdx, indirectDesc, ringReset,
                cols, rows, resizeOrder, newQueueSize, port0);
    }

    public ConsoleOptions withPort0(PortSpec newPort0) {
        return new ConsoleOptions(name, maxPorts, size, multiport, emergWrite, eventIdx, indirectDesc, ringReset,
                cols, rows, resizeOrder, queueSize, newPort0);
    }
}
