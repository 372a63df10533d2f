package dev.peridot.virtio.demo.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the demo guest (PID {@code dev.peridot.virtio.demo.guest}); delete it or set enabled=false to switch it off. */
@ObjectClassDefinition(name = "Peridot Virtio demo guest",
        description = "The driver test kit acting as the guest of a console device, echoing what it receives. Not a VM.")
public @interface DemoGuestConfig {

    @AttributeDefinition(name = "Enabled")
    boolean enabled() default true;

    @AttributeDefinition(name = "Device", description = "Name of the console device to drive.")
    String device_name() default "console0";

    @AttributeDefinition(name = "RAM offset (MiB)", description = "Where in the MMIO bus RAM the demo guest keeps its rings and buffers.")
    int ram_offset_mb() default 48;

    @AttributeDefinition(name = "RAM size (MiB)")
    int ram_size_mb() default 8;

    @AttributeDefinition(name = "Receive buffers", description = "Receive buffers kept posted, each of buffer_size bytes.")
    int receive_buffers() default 16;

    @AttributeDefinition(name = "Buffer size")
    int buffer_size() default 4096;
}
