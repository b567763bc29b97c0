//! Thumbnails files natively and prints sizes and timings: a quick look, not the benchmark.

use std::time::Instant;

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable file");
        let start = Instant::now();
        let result = imaging::thumbnails(&bytes, &[200, 400], &imaging::Limits::default());
        let elapsed = start.elapsed();
        match result {
            Ok((probe, thumbs)) => {
                println!(
                    "{path}: {}x{} {:?} in {elapsed:.1?}",
                    probe.width, probe.height, probe.format
                );
                for t in &thumbs {
                    println!(
                        "  {}x{} {:?} {} bytes",
                        t.width,
                        t.height,
                        t.format,
                        t.bytes.len()
                    );
                    let out = format!(
                        "/tmp/thumb-{}-{}.{}",
                        path.rsplit('/').next().unwrap_or("x"),
                        t.height,
                        if t.format == imaging::Format::Png {
                            "png"
                        } else {
                            "jpg"
                        }
                    );
                    std::fs::write(out, &t.bytes).expect("writable /tmp");
                }
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}
