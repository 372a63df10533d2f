package dev.peridot.virtio.shell.internal;

import java.util.ArrayList;
import java.util.List;

/** A plain-text table that fits a terminal: columns as wide as their widest cell, long cells cut with "…". */
final class Table {

    /** Cells wider than this are cut, so rows fit an 80-100 column terminal. */
    static final int MAX_CELL = 40;

    private final String[] headers;
    private final List<String[]> rows = new ArrayList<>();

    Table(String... headers) {
        this.headers = headers;
    }

    Table row(Object... cells) {
        String[] r = new String[headers.length];
        for (int i = 0; i < headers.length; i++) {
            String cell = i < cells.length && cells[i] != null ? cells[i].toString() : "";
            r[i] = cell.length() > MAX_CELL ? cell.substring(0, MAX_CELL - 1) + "…" : cell;
        }
        rows.add(r);
        return this;
    }

    int size() {
        return rows.size();
    }

    @Override
    public String toString() {
        int[] widths = new int[headers.length];
        for (int i = 0; i < headers.length; i++) {
            widths[i] = headers[i].length();
            for (String[] r : rows) {
                widths[i] = Math.max(widths[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, headers, widths);
        for (String[] r : rows) {
            line(sb, r, widths);
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, String[] cells, int[] widths) {
        StringBuilder l = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            if (i > 0) {
                l.append("  ");
            }
            l.append(cells[i]);
            if (i < cells.length - 1) {
                l.append(" ".repeat(widths[i] - cells[i].length()));
            }
        }
        sb.append(l.toString().stripTrailing()).append('\n');
    }
}
