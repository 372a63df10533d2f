package dev.peridot.virtio.console;

import dev.peridot.virtio.feature.Feature;

/** The console's own feature bits (spec 5.3.3). Bits 3 to 23 are undefined and never offered (CON-04). */
public enum ConsoleFeature implements Feature {

    /** Configuration fields {@code cols} and {@code rows} are valid; a configuration change means a new size of port 0. */
    VIRTIO_CONSOLE_F_SIZE(0),
    /** {@code max_nr_ports} is valid and the control queues (2, 3) and the queues of ports 1.. exist. */
    VIRTIO_CONSOLE_F_MULTIPORT(1),
    /** {@code emerg_wr} is valid: a write to it emits one byte on port 0, at any time. */
    VIRTIO_CONSOLE_F_EMERG_WRITE(2);

    private final int bit;

    ConsoleFeature(int bit) {
        this.bit = bit;
    }

    @Override
    public int bit() {
        return bit;
    }
}
