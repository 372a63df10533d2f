package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.console.internal.ConsoleDevice.CONSOLE_PORT;
import static dev.peridot.virtio.console.internal.ConsoleDevice.DEVICE_ADD;
import static dev.peridot.virtio.console.internal.ConsoleDevice.DEVICE_READY;
import static dev.peridot.virtio.console.internal.ConsoleDevice.DEVICE_REMOVE;
import static dev.peridot.virtio.console.internal.ConsoleDevice.PORT_NAME;
import static dev.peridot.virtio.console.internal.ConsoleDevice.PORT_OPEN;
import static dev.peridot.virtio.console.internal.ConsoleDevice.PORT_READY;
import static dev.peridot.virtio.console.internal.ConsoleDevice.RESIZE;

import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.testkit.DriverException;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The guest side of a console, as Linux's virtio_console does it (6.1), on top of the test kit:
 * bring-up, the multiport handshake (c_ivq filled, DEVICE_READY with id 0xFFFFFFFF; on PORT_ADD
 * fill the port's receiveq and answer PORT_READY(1); on CONSOLE_PORT answer PORT_OPEN(1); record
 * PORT_NAME, PORT_OPEN, RESIZE, PORT_REMOVE), receive buffers that are re-posted after harvest,
 * and transmit helpers. Every device-to-driver control message is logged.
 */
final class ConsoleGuest {

    /** Linux's VIRTIO_CONSOLE_BAD_ID, the id of DEVICE_READY. */
    static final int BAD_ID = 0xFFFFFFFF;
    static final FeatureSet LINUX_FEATURES = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_EVENT_IDX, ReservedFeature.VIRTIO_F_INDIRECT_DESC,
            ConsoleFeature.VIRTIO_CONSOLE_F_SIZE, ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);

    record Message(int id, int event, int value, byte[] payload) {
        String name() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        int le16(int at) {
            return (payload[at] & 0xFF) | (payload[at + 1] & 0xFF) << 8;
        }

        @Override
        public String toString() {
            return "{" + Integer.toUnsignedString(id) + ", " + event + ", " + value + ", " + payload.length + " B}";
        }
    }

    /** What the guest knows about a port. */
    static final class GuestPort {
        final int id;
        boolean console;
        String name;
        boolean hostOpen;
        boolean guestOpen;
        int resizeA = -1;
        int resizeB = -1;
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        long receivedTotal;
        int txInFlight;

        GuestPort(int id) {
            this.id = id;
        }
    }

    final VirtioMmioDriver driver;
    final List<Message> log = new ArrayList<>();
    final Map<Integer, GuestPort> ports = new HashMap<>();
    final Map<Integer, DriverQueue> queues = new HashMap<>();
    boolean multiport;
    int maxPorts = 1;
    int controlBufferSize = 4096;
    int controlBuffers = 8;
    int receiveBufferSize = 4096;
    int receiveBuffers = 16;
    boolean answerPortReady = true;
    boolean answerConsolePort = true;
    boolean keepReceived = true;
    /** On PORT_REMOVE take back the port's unused buffers as Linux does (virtqueue_detach_unused_buf). */
    boolean detachOnRemove = true;
    /** If set, receives each port's input instead of {@link GuestPort#received}. */
    java.util.function.BiConsumer<Integer, byte[]> receiveSink;
    /** If set, the size of each (re-)posted receive buffer. */
    java.util.function.IntSupplier receiveSize;

    ConsoleGuest(VirtioMmioDriver driver) {
        this.driver = driver;
    }

    // ------------------------------------------------------------------ bring-up

    /** Probe, reset, ACKNOWLEDGE, DRIVER, features, (max_nr_ports), every queue, DRIVER_OK. */
    void bringUpQueues(FeatureSet wanted, int queueSize) {
        driver.probe();
        driver.releaseQueues();
        queues.clear();
        ports.clear();
        driver.reset();
        driver.addStatus(DeviceStatus.ACKNOWLEDGE);
        driver.addStatus(DeviceStatus.DRIVER);
        if (!driver.negotiate(wanted)) {
            throw new DriverException("features refused");
        }
        multiport = driver.negotiatedFeatures().contains(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
        maxPorts = multiport ? driver.readConfig(4, 4) : 1;
        int count = multiport ? 2 * (maxPorts + 1) : 2;
        for (int q = 0; q < count; q++) {
            queues.put(q, driver.setupQueue(q, queueSize));
        }
        driver.driverOk();
    }

    /** Linux's probe: queues, DRIVER_OK, then single port: port 0 with its receive buffers; multiport: c_ivq filled and DEVICE_READY. */
    void bringUp(FeatureSet wanted) {
        bringUp(wanted, 256);
    }

    void bringUp(FeatureSet wanted, int queueSize) {
        bringUpQueues(wanted, queueSize);
        if (!multiport) {
            GuestPort p0 = new GuestPort(0);
            p0.console = true;
            p0.guestOpen = true;
            ports.put(0, p0);
            fillReceive(0);
        } else {
            fillControl();
            sendControl(BAD_ID, DEVICE_READY, 1);
        }
    }

    void fillControl() {
        DriverQueue c = queues.get(ConsoleDevice.CONTROL_RX);
        for (int i = 0; i < controlBuffers; i++) {
            c.addInbound(controlBufferSize);
        }
        c.kick();
    }

    void fillReceive(int port) {
        DriverQueue q = queues.get(ConsoleDevice.receiveQueue(port));
        for (int i = 0; i < receiveBuffers && q.inFlight() < q.size(); i++) {
            q.addInbound(nextReceiveSize());
        }
        q.kick();
    }

    private int nextReceiveSize() {
        return receiveSize == null ? receiveBufferSize : receiveSize.getAsInt();
    }

    // ------------------------------------------------------------------ control

    void sendControl(int id, int event, int value) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(id).putShort((short) event).putShort((short) value);
        DriverQueue c = queues.get(ConsoleDevice.CONTROL_TX);
        c.addOutbound(b.array());
        c.kick();
    }

    /** Raw bytes on the control transmitq (hostile tests). */
    void sendControlRaw(byte[] bytes) {
        DriverQueue c = queues.get(ConsoleDevice.CONTROL_TX);
        c.addOutbound(bytes);
        c.kick();
    }

    // ------------------------------------------------------------------ data

    /** Queues {@code data} on the port's transmitq and notifies. */
    void write(int port, byte[] data) {
        DriverQueue q = queues.get(ConsoleDevice.transmitQueue(port));
        q.addOutbound(data);
        ports.computeIfAbsent(port, GuestPort::new).txInFlight++;
        q.kick();
    }

    /** Opens the port from the guest side (PORT_OPEN 1, as an application's open()). */
    void open(int port) {
        ports.get(port).guestOpen = true;
        sendControl(port, PORT_OPEN, 1);
    }

    // ------------------------------------------------------------------ the interrupt handler

    /** Handles an interrupt if one is pending and harvests every queue (Linux's vm_interrupt + callbacks). */
    void pump() {
        if (driver.window().interruptAsserted()) {
            driver.handleInterrupt();
        }
        for (Map.Entry<Integer, DriverQueue> e : queues.entrySet()) {
            int q = e.getKey();
            DriverQueue queue = e.getValue();
            List<DriverQueue.Completion> done = queue.harvest();
            if (done.isEmpty()) {
                continue;
            }
            if (q == ConsoleDevice.CONTROL_RX) {
                for (DriverQueue.Completion c : done) {
                    handleControl(c);
                    queue.addInbound(controlBufferSize);
                }
                queue.kick();
            } else if (q == ConsoleDevice.CONTROL_TX) {
                // Linux frees sent control buffers.
            } else if (q % 2 == 0 || q == 0) {
                int port = ConsoleDevice.portOfQueue(q);
                GuestPort p = ports.get(port);
                for (DriverQueue.Completion c : done) {
                    if (p != null) {
                        p.receivedTotal += c.length();
                        if (receiveSink != null) {
                            receiveSink.accept(port, c.data());
                        } else if (keepReceived) {
                            p.received.write(c.data(), 0, c.data().length);
                        }
                        queue.addInbound(nextReceiveSize()); // Linux re-adds each receive buffer.
                    }
                }
                queue.kick();
            } else {
                GuestPort p = ports.get(ConsoleDevice.portOfQueue(q));
                if (p != null) {
                    p.txInFlight -= done.size();
                }
            }
        }
    }

    private void handleControl(DriverQueue.Completion c) {
        if (c.length() < 8) {
            throw new DriverException("control message of " + c.length() + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(c.data()).order(ByteOrder.LITTLE_ENDIAN);
        int id = b.getInt();
        int event = b.getShort() & 0xFFFF;
        int value = b.getShort() & 0xFFFF;
        byte[] payload = new byte[c.length() - 8];
        b.get(payload);
        Message m = new Message(id, event, value, payload);
        log.add(m);
        GuestPort p = ports.get(id);
        switch (event) {
            case DEVICE_ADD -> {
                if (p != null) {
                    throw new DriverException("PORT_ADD for existing port " + id);
                }
                p = new GuestPort(id);
                ports.put(id, p);
                fillReceive(id);
                if (answerPortReady) {
                    sendControl(id, PORT_READY, 1);
                }
            }
            case DEVICE_REMOVE -> {
                if (p == null) {
                    throw new DriverException("PORT_REMOVE for unknown port " + id);
                }
                ports.remove(id);
                if (detachOnRemove) {
                    // Linux's remove_port_data: harvest what the device used, then take back the
                    // unused buffers of both queues, which moves their avail.idx back.
                    for (int q : new int[] {ConsoleDevice.receiveQueue(id), ConsoleDevice.transmitQueue(id)}) {
                        DriverQueue queue = queues.get(q);
                        if (queue != null) {
                            queue.harvest();
                            queue.detachUnused();
                        }
                    }
                }
            }
            case CONSOLE_PORT -> {
                need(p, m);
                p.console = true;
                if (answerConsolePort) {
                    p.guestOpen = true;
                    sendControl(id, PORT_OPEN, 1);
                }
            }
            case PORT_NAME -> {
                need(p, m);
                p.name = m.name();
            }
            case PORT_OPEN -> {
                need(p, m);
                p.hostOpen = value == 1;
            }
            case RESIZE -> {
                need(p, m);
                p.resizeA = m.le16(0);
                p.resizeB = m.le16(2);
            }
            default -> throw new DriverException("unknown control event " + event);
        }
    }

    private static void need(GuestPort p, Message m) {
        if (p == null) {
            throw new DriverException("message for a port that was not added: " + m);
        }
    }

    /** Pumps until {@code condition} holds. */
    void awaitUntil(BooleanSupplier condition, String what) {
        awaitUntil(condition, what, 10_000);
    }

    void awaitUntil(BooleanSupplier condition, String what, long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            pump();
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what + "; control log " + log);
            }
            driver.awaitInterrupt(2);
        }
    }

    /** Pumps for a while (to show that something does not happen). */
    void pumpFor(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < deadline) {
            pump();
            driver.awaitInterrupt(2);
        }
        pump();
    }

    /** The handshake as Linux completes it: ports added, ready, consoles opened. */
    void awaitPorts(int... ids) {
        awaitUntil(() -> {
            for (int id : ids) {
                if (!ports.containsKey(id)) {
                    return false;
                }
            }
            return true;
        }, "ports " + java.util.Arrays.toString(ids));
    }

    List<Message> messages(int event) {
        return log.stream().filter(m -> m.event() == event).toList();
    }

    List<Message> messages(int id, int event) {
        return log.stream().filter(m -> m.id() == id && m.event() == event).toList();
    }

    byte[] received(int port) {
        return ports.get(port).received.toByteArray();
    }
}
