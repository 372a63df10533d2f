package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.BackendSpec;

import java.util.ArrayDeque;

/**
 * The child process of {@link BackendTest#stdioBackendInAChildProcess}: a console whose port 0 is this JVM's
 * standard streams, and a guest that writes back everything it receives, upper-cased, until it has received
 * {@code "bye\n"}. Nothing else may write to standard output here (logging goes to standard error).
 */
final class StdioEchoGuest {

    static final byte[] END = {'b', 'y', 'e', '\n'};

    private StdioEchoGuest() {
    }

    public static void main(String[] args) {
        ConsoleRig rig = ConsoleRig.single();
        ArrayDeque<byte[]> pending = new ArrayDeque<>();
        rig.guest.receiveSink = (port, data) -> pending.add(data);
        rig.guest.bringUp(SinglePortTest.SINGLE);
        rig.device.addPort(BackendTest.port(0, "", new BackendSpec.Stdio(true)).withConsole(true));
        byte[] tail = new byte[END.length];
        long echoed = 0;
        while (!java.util.Arrays.equals(tail, END)) {
            rig.guest.awaitUntil(() -> !pending.isEmpty(), "input on standard input", 60_000);
            while (!pending.isEmpty()) {
                byte[] data = pending.poll();
                for (int i = 0; i < data.length; i++) {
                    System.arraycopy(tail, 1, tail, 0, tail.length - 1);
                    tail[tail.length - 1] = data[i];
                    if (data[i] >= 'a' && data[i] <= 'z') {
                        data[i] = (byte) (data[i] - 'a' + 'A');
                    }
                }
                rig.guest.awaitUntil(() -> rig.guest.ports.get(0).txInFlight < 8, "room on the transmitq");
                rig.guest.write(0, data);
                echoed += data.length;
            }
        }
        long total = echoed;
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().bytesToBackend() >= total,
                "everything written to standard output", 60_000);
        System.exit(0);
    }
}
