package dev.peridot.virtio.device;

import java.util.Optional;

/**
 * The device IDs of VIRTIO 1.2 chapter 5 ("Device Types").
 */
public enum DeviceType {
    NETWORK(1, "network card"),
    BLOCK(2, "block device"),
    CONSOLE(3, "console"),
    ENTROPY(4, "entropy source"),
    MEMORY_BALLOON_TRADITIONAL(5, "memory ballooning (traditional)"),
    IO_MEMORY(6, "ioMemory"),
    RPMSG(7, "rpmsg"),
    SCSI_HOST(8, "SCSI host"),
    TRANSPORT_9P(9, "9P transport"),
    MAC80211_WLAN(10, "mac80211 wlan"),
    RPROC_SERIAL(11, "rproc serial"),
    CAIF(12, "virtio CAIF"),
    MEMORY_BALLOON(13, "memory balloon"),
    GPU(16, "GPU device"),
    TIMER_CLOCK(17, "Timer/Clock device"),
    INPUT(18, "Input device"),
    SOCKET(19, "Socket device"),
    CRYPTO(20, "Crypto device"),
    SIGNAL_DISTRIBUTION(21, "Signal Distribution Module"),
    PSTORE(22, "pstore device"),
    IOMMU(23, "IOMMU device"),
    MEMORY(24, "Memory device"),
    AUDIO(25, "Audio device"),
    FILE_SYSTEM(26, "file system device"),
    PMEM(27, "PMEM device"),
    RPMB(28, "RPMB device"),
    MAC80211_HWSIM(29, "mac80211 hwsim wireless simulation device"),
    VIDEO_ENCODER(30, "Video encoder device"),
    VIDEO_DECODER(31, "Video decoder device"),
    SCMI(32, "SCMI device"),
    NITRO_SECURE_MODULE(33, "NitroSecureModule"),
    I2C_ADAPTER(34, "I2C adapter"),
    WATCHDOG(35, "Watchdog"),
    CAN(36, "CAN device"),
    PARAMETER_SERVER(38, "Parameter Server"),
    AUDIO_POLICY(39, "Audio policy device"),
    BLUETOOTH(40, "Bluetooth device"),
    GPIO(41, "GPIO device"),
    RDMA(42, "RDMA device");

    /** Device ID 0: reserved (invalid); an MMIO slot without a device reads it. */
    public static final int NO_DEVICE = 0;

    private final int id;
    private final String description;

    DeviceType(int id, String description) {
        this.id = id;
        this.description = description;
    }

    /** The device ID. */
    public int id() {
        return id;
    }

    /** The spec's name for the device type. */
    public String description() {
        return description;
    }

    /** The type with this ID, if the spec defines one. */
    public static Optional<DeviceType> ofId(int id) {
        for (DeviceType t : values()) {
            if (t.id == id) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** A display name for any device ID: the type's name, or {@code device-N}. */
    public static String nameOf(int id) {
        return ofId(id).map(t -> t.name().toLowerCase(java.util.Locale.ROOT)).orElse("device-" + id);
    }
}
