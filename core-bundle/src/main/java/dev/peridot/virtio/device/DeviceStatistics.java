package dev.peridot.virtio.device;

/**
 * Counters of what a driver did to a device and how the device answered.
 *
 * @param statusWrites            writes to the status field
 * @param refusedStatusWrites     status writes that did not latch (invalid transition, refused features, ...)
 * @param refusedQueueWrites      queue configuration writes and enables the device refused
 * @param ignoredNotifications    notifications for a missing, disabled or not-yet-live queue
 * @param configAccessesOutOfRange device-specific configuration accesses beyond its size
 * @param resets                  completed device resets
 * @param queueResets             completed single-queue resets
 * @param needsResetEvents        times the device entered DEVICE_NEEDS_RESET
 * @param configChanges           device-side configuration changes (generation bumps)
 */
public record DeviceStatistics(long statusWrites, long refusedStatusWrites, long refusedQueueWrites,
                               long ignoredNotifications, long configAccessesOutOfRange, long resets,
                               long queueResets, long needsResetEvents, long configChanges) {
}
