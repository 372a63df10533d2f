package dev.peridot.virtio.transport.mmio.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the MMIO transport (PID {@code dev.peridot.virtio.mmio}): the slot layout and guest RAM. */
@ObjectClassDefinition(name = "Peridot Virtio MMIO transport",
        description = "Slot layout and guest RAM of the virtio-mmio transport (spec 4.2).")
public @interface MmioTransportConfig {

    @AttributeDefinition(name = "Base address", description = "Guest-physical address of slot 0, decimal or 0x-hex.")
    String base_address() default "0xd0000000";

    @AttributeDefinition(name = "Window size", description = "Bytes per slot window; a power of 2, at least 512.")
    int window_size() default 0x1000;

    @AttributeDefinition(name = "First IRQ", description = "Interrupt number of slot 0; slot n uses first IRQ + n.")
    int first_irq() default 5;

    @AttributeDefinition(name = "Slots", description = "Number of slots.")
    int slots() default 32;

    @AttributeDefinition(name = "RAM base", description = "Guest-physical address of guest RAM, decimal or 0x-hex.")
    String ram_base() default "0x40000000";

    @AttributeDefinition(name = "RAM size (MiB)", description = "Size of the guest RAM the devices' rings and buffers live in.")
    int ram_size_mb() default 64;

    @AttributeDefinition(name = "Slot assignments", description = "Fixed slots for named devices, as name=slot (for example console0=0).")
    String[] slot_assignments() default {};
}
