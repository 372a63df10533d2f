package dev.peridot.virtio.itests;

import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The guest's side of the console's multiport control protocol (spec 5.3.6.2), as Linux's
 * virtio_console speaks it: control receive buffers on queue 2, messages
 * {le32 id, le16 event, le16 value} on queue 3.
 */
final class ControlProtocol {

    static final int DEVICE_READY = 0;
    static final int PORT_ADD = 1;
    static final int PORT_REMOVE = 2;
    static final int PORT_READY = 3;
    static final int CONSOLE_PORT = 4;
    static final int RESIZE = 5;
    static final int PORT_OPEN = 6;
    static final int PORT_NAME = 7;

    /** A control message from the device, with its payload (PORT_NAME's name, RESIZE's size). */
    record Message(int id, int event, int value, byte[] payload) {
        String name() {
            return new String(payload, StandardCharsets.UTF_8);
        }
    }

    private final VirtioMmioDriver driver;
    private final DriverQueue controlIn;
    private final DriverQueue controlOut;
    private final List<Message> received = new ArrayList<>();

    ControlProtocol(VirtioMmioDriver driver, List<DriverQueue> queues) {
        this.driver = driver;
        this.controlIn = queues.get(2);
        this.controlOut = queues.get(3);
        for (int i = 0; i < 16; i++) {
            controlIn.addInbound(256);
        }
        controlIn.kick();
    }

    /** Sends one control message to the device and waits until it was used. */
    void send(int id, int event, int value) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(id).putShort((short) event).putShort((short) value);
        controlOut.addOutbound(b.array());
        controlOut.kick();
        driver.awaitCompletions(controlOut, 1, 10_000);
    }

    /** Waits for a message matching {@code event} and {@code id} (id -1: any), consuming earlier ones into the log. */
    Message await(int event, int id, long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            for (int i = 0; i < received.size(); i++) {
                Message m = received.get(i);
                if (m.event() == event && (id < 0 || m.id() == id)) {
                    received.remove(i);
                    return m;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no control message event " + event + " for port " + id + "; got " + received);
            }
            poll(20);
        }
    }

    /** Takes what the device sent so far (handling the interrupt line), re-posting receive buffers. */
    void poll(long waitMillis) {
        if (driver.awaitInterrupt(waitMillis)) {
            driver.handleInterrupt();
        }
        int reposts = 0;
        for (DriverQueue.Completion c : controlIn.harvest()) {
            ByteBuffer b = ByteBuffer.wrap(c.data()).order(ByteOrder.LITTLE_ENDIAN);
            if (c.length() >= 8) {
                int id = b.getInt();
                int event = b.getShort() & 0xFFFF;
                int value = b.getShort() & 0xFFFF;
                byte[] payload = new byte[c.length() - 8];
                b.get(payload);
                received.add(new Message(id, event, value, payload));
            }
            reposts++;
        }
        for (int i = 0; i < reposts; i++) {
            controlIn.addInbound(256);
        }
        if (reposts > 0) {
            controlIn.kick();
        }
    }

    /** Everything received and not yet awaited. */
    List<Message> pending() {
        return List.copyOf(received);
    }
}
