package dev.peridot.virtio.transport.mmio;

/**
 * Counters of one MMIO slot.
 *
 * @param reads                 register reads
 * @param writes                register writes
 * @param invalidAccesses       accesses that were ignored: bad width or alignment, undefined
 *                              offset, wrong direction, config out of range (HD-01, HD-02)
 * @param notificationsReceived QueueNotify writes
 * @param interruptsRaised      notifications the device sent (each sets an InterruptStatus bit)
 * @param lineAssertions        times the interrupt line went from low to high
 * @param interruptsAcknowledged InterruptACK writes that cleared at least one pending bit
 */
public record MmioStatistics(long reads, long writes, long invalidAccesses, long notificationsReceived,
                             long interruptsRaised, long lineAssertions, long interruptsAcknowledged) {
}
