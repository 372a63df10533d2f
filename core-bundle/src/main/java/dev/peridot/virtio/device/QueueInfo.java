package dev.peridot.virtio.device;

/**
 * A snapshot of one virtqueue for inspection (the shell's {@code virtio:queues}).
 *
 * @param index                 the queue index
 * @param maxSize               QueueNumMax (0: the queue is not available)
 * @param size                  the size the driver chose
 * @param ready                 whether the queue is enabled
 * @param resetInProgress       whether a queue reset has not finished
 * @param descriptorArea        guest address of the Descriptor Area
 * @param driverArea            guest address of the Driver Area (available ring)
 * @param deviceArea            guest address of the Device Area (used ring)
 * @param nextAvail             the device's index of the next available entry it will read
 * @param driverAvailIdx        avail.idx as the driver last published it (-1 if not readable)
 * @param usedIdx               the used index the device last published
 * @param inFlight              chains popped and not yet used
 * @param notificationsReceived available buffer notifications received for the queue
 * @param chainsPopped          chains the device took from the available ring
 * @param buffersUsed           chains the device put into the used ring
 * @param notificationsSent     used buffer notifications sent to the driver
 * @param broken                whether the driver corrupted the queue (the device needs a reset)
 */
public record QueueInfo(int index, int maxSize, int size, boolean ready, boolean resetInProgress,
                        long descriptorArea, long driverArea, long deviceArea,
                        int nextAvail, int driverAvailIdx, int usedIdx, int inFlight,
                        long notificationsReceived, long chainsPopped, long buffersUsed,
                        long notificationsSent, boolean broken) {
}
