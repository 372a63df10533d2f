package dev.peridot.virtio.queue;

/**
 * Where a virtqueue lives in guest memory and how large it is, as the driver configured it
 * (MMIO QueueNum, QueueDesc, QueueDriver, QueueDevice; spec 2.6 "Descriptor Area, Driver Area,
 * Device Area").
 *
 * @param size           the queue size the driver chose
 * @param descriptorArea guest address of the descriptor table (split) or descriptor ring (packed)
 * @param driverArea     guest address of the available ring (split) or driver event suppression (packed)
 * @param deviceArea     guest address of the used ring (split) or device event suppression (packed)
 */
public record QueueLayout(int size, long descriptorArea, long driverArea, long deviceArea) {
}
