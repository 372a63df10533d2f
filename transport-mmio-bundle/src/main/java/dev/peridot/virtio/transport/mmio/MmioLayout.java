package dev.peridot.virtio.transport.mmio;

/**
 * Where the slots of a machine are: slot {@code n} is at {@code baseAddress + n * windowSize}
 * with interrupt {@code firstIrq + n} (microVM-style layouts put them at 0xd0000000 upwards).
 *
 * @param baseAddress guest-physical address of slot 0's window
 * @param windowSize  bytes per window (at least 0x200: registers plus the config space)
 * @param firstIrq    interrupt number of slot 0
 * @param slots       number of slots
 */
public record MmioLayout(long baseAddress, int windowSize, int firstIrq, int slots) {

    /** The default: 32 slots of 0x1000 bytes from 0xd0000000, IRQ 5 upwards. */
    public static final MmioLayout DEFAULT = new MmioLayout(0xd000_0000L, 0x1000, 5, 32);

    public MmioLayout {
        if (windowSize < 0x200 || Integer.bitCount(windowSize) != 1) {
            throw new IllegalArgumentException("window size must be a power of 2 of at least 0x200: " + windowSize);
        }
        if (slots <= 0 || slots > 4096 || baseAddress < 0 || firstIrq < 0) {
            throw new IllegalArgumentException("invalid MMIO layout");
        }
    }

    /** Guest-physical base address of slot {@code slot}. */
    public long base(int slot) {
        return baseAddress + (long) slot * windowSize;
    }

    /** The slot whose window holds {@code address}, or -1. */
    public int slotOf(long address) {
        if (address < baseAddress) {
            return -1;
        }
        long slot = (address - baseAddress) / windowSize;
        return slot < slots ? (int) slot : -1;
    }
}
