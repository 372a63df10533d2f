package dev.peridot.virtio.transport.mmio;

/**
 * The virtio-mmio version 2 register map (spec 4.2.2, table "MMIO Device Register Layout").
 * All control registers are 32 bits wide and little-endian; the device-specific configuration
 * starts at {@link #CONFIG}.
 */
public final class MmioRegisters {

    /** "virt" in memory order. */
    public static final int MAGIC = 0x74726976;
    /** The non-legacy interface. */
    public static final int VERSION_2 = 2;

    public static final int MAGIC_VALUE = 0x000;
    public static final int VERSION = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    public static final int SHM_SEL = 0x0ac;
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    public static final int QUEUE_RESET = 0x0c0;
    public static final int CONFIG_GENERATION = 0x0fc;
    /** The device-specific configuration space. */
    public static final int CONFIG = 0x100;

    /** InterruptStatus bit 0: a used buffer notification. */
    public static final int INTERRUPT_USED_RING = 0x1;
    /** InterruptStatus bit 1: a configuration change notification. */
    public static final int INTERRUPT_CONFIG_CHANGE = 0x2;

    private MmioRegisters() {
    }

    /** The register's name, for logs and the shell; {@code reserved} for offsets the table does not define. */
    public static String name(int offset) {
        return switch (offset) {
            case MAGIC_VALUE -> "MagicValue";
            case VERSION -> "Version";
            case DEVICE_ID -> "DeviceID";
            case VENDOR_ID -> "VendorID";
            case DEVICE_FEATURES -> "DeviceFeatures";
            case DEVICE_FEATURES_SEL -> "DeviceFeaturesSel";
            case DRIVER_FEATURES -> "DriverFeatures";
            case DRIVER_FEATURES_SEL -> "DriverFeaturesSel";
            case QUEUE_SEL -> "QueueSel";
            case QUEUE_NUM_MAX -> "QueueNumMax";
            case QUEUE_NUM -> "QueueNum";
            case QUEUE_READY -> "QueueReady";
            case QUEUE_NOTIFY -> "QueueNotify";
            case INTERRUPT_STATUS -> "InterruptStatus";
            case INTERRUPT_ACK -> "InterruptACK";
            case STATUS -> "Status";
            case QUEUE_DESC_LOW -> "QueueDescLow";
            case QUEUE_DESC_HIGH -> "QueueDescHigh";
            case QUEUE_DRIVER_LOW -> "QueueDriverLow";
            case QUEUE_DRIVER_HIGH -> "QueueDriverHigh";
            case QUEUE_DEVICE_LOW -> "QueueDeviceLow";
            case QUEUE_DEVICE_HIGH -> "QueueDeviceHigh";
            case SHM_SEL -> "SHMSel";
            case SHM_LEN_LOW -> "SHMLenLow";
            case SHM_LEN_HIGH -> "SHMLenHigh";
            case SHM_BASE_LOW -> "SHMBaseLow";
            case SHM_BASE_HIGH -> "SHMBaseHigh";
            case QUEUE_RESET -> "QueueReset";
            case CONFIG_GENERATION -> "ConfigGeneration";
            default -> offset >= CONFIG ? String.format("Config+0x%x", offset - CONFIG) : "reserved";
        };
    }
}
