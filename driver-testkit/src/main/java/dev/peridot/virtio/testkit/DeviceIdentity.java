package dev.peridot.virtio.testkit;

/**
 * What a driver reads first (spec 4.2.3.1.1): MagicValue, Version, DeviceID, VendorID.
 *
 * @param magic    should be 0x74726976
 * @param version  2 for a modern device
 * @param deviceId the device type, 0 for an empty slot
 * @param vendorId any value the device chose
 */
public record DeviceIdentity(int magic, int version, int deviceId, int vendorId) {
}
