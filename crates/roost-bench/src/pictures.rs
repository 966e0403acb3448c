//! Pictures on a running server: serving previews (the hot path of every timeline with images),
//! home timelines read while uploads are processed, and the weight of a home page of image posts.
//!
//! The dataset is made here: `--accounts` members who all follow the first ten, and those ten
//! post `--posts` posts with one photo-like JPEG each (from `media::photo`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use crate::http::{check, create_accounts, drive, sign_in_all};
use crate::stats::{self, Latencies};

#[derive(clap::Args)]
pub struct Options {
    /// Members in the dataset (the first ten post; everyone follows them).
    #[arg(long, default_value_t = 60)]
    accounts: usize,
    /// Posts with a picture each.
    #[arg(long, default_value_t = 100)]
    posts: usize,
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Concurrent clients fetching previews.
    #[arg(long, default_value_t = 32)]
    preview_concurrency: usize,
    /// Home timeline reads per second while measuring the effect of uploads (an open loop, so
    /// that latency is measured at a steady load rather than at saturation).
    #[arg(long, default_value_t = 1000)]
    read_rate: u64,
    /// Concurrent clients reading home timelines as fast as they can.
    #[arg(long, default_value_t = 16)]
    read_concurrency: usize,
    /// Uploads per second during the "with uploads" phases.
    #[arg(long, default_value_t = 4)]
    upload_rate: u64,
    /// Width × height of each upload in that phase, in pixels (default: a 12 MP photo).
    #[arg(long, default_value = "4000x3000")]
    upload_size: String,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<std::path::PathBuf>,
}

const BOUNDARY: &str = "roost-bench-boundary-7d1f";

/// A multipart body with one file field.
fn multipart(field: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Uploads one picture through `POST /api/v1/media` (which answers once it is processed).
async fn upload(h: &reqwest::Client, base: &str, token: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let resp = h
        .post(format!("{base}/api/v1/media"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart("file", bytes))
        .send()
        .await?;
    let v: serde_json::Value = check(resp).await?.json().await?;
    Ok(v["id"].as_str().context("no media id")?.to_string())
}

/// Reads home timelines on `clients` connections, each asking again once answered, for
/// `seconds`; returns reads per second and failures.
async fn read_all_out(
    h: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
    clients: usize,
    seconds: u64,
) -> (f64, usize) {
    let (hh, b, tk) = (h.clone(), base.to_string(), tokens.clone());
    let t = Instant::now();
    let (lat, failed) = drive(clients, usize::MAX, Some(Instant::now() + Duration::from_secs(seconds)), move |k| {
        let (h, b, tk) = (hh.clone(), b.clone(), tk.clone());
        async move {
            let resp = h
                .get(format!("{b}/api/v1/timelines/home?limit=20"))
                .bearer_auth(&tk[(k * 7919) % tk.len()])
                .send()
                .await?;
            check(resp).await?.bytes().await?;
            Ok(())
        }
    })
    .await;
    (lat.len() as f64 / t.elapsed().as_secs_f64(), failed)
}

/// Reads home timelines at `rate` per second for `seconds` (each read on its own task, so a slow
/// answer does not hold back the next one); returns their latencies and failures.
async fn read_homes(
    h: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
    rate: u64,
    seconds: u64,
) -> (Latencies, usize) {
    let lat = Arc::new(Mutex::new(Latencies::default()));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut k = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        k += 1;
        let (h, url, lat, failed) =
            (h.clone(), format!("{base}/api/v1/timelines/home?limit=20"), lat.clone(), failed.clone());
        let token = tokens[(k as usize * 7919) % tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = match h.get(url).bearer_auth(token).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            if ok {
                if let Ok(mut l) = lat.lock() {
                    l.record(t.elapsed());
                }
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    (lat, failed.load(Ordering::Relaxed))
}

/// The size of what a page links to (`link`: a path, or a whole URL).
async fn fetched(h: &reqwest::Client, base: &str, cookie: &str, link: &str) -> anyhow::Result<usize> {
    let url = if link.starts_with("http") { link.to_string() } else { format!("{base}{link}") };
    let resp = check(h.get(&url).header(reqwest::header::COOKIE, cookie).send().await?)
        .await
        .with_context(|| format!("fetching {url}"))?;
    Ok(resp.bytes().await?.len())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    anyhow::ensure!(o.accounts > 20, "--accounts must be more than 20");
    let (uw, uh) = o.upload_size.split_once('x').context("--upload-size is WIDTHxHEIGHT")?;
    let (uw, uh): (u32, u32) = (uw.parse()?, uh.parse()?);
    let (_tmp, data_dir, server) = crate::http::fresh_server(o.roost.as_deref())?;
    let base = server.url.clone();
    let h =
        reqwest::Client::builder().pool_max_idle_per_host(256).redirect(reqwest::redirect::Policy::none()).build()?;
    let n = o.accounts;

    let ids = create_accounts(&data_dir, n, "p", true).await?;
    let tokens = sign_in_all(&h, &base, n, "p").await?;
    let (hh, b, tk, id2) = (h.clone(), base.clone(), tokens.clone(), ids.clone());
    let (_, failed) = drive(8, (n - 10) * 10, None, move |k| {
        let (h, b, tk, ids) = (hh.clone(), b.clone(), tk.clone(), id2.clone());
        async move {
            let (follower, author) = (10 + k / 10, k % 10);
            check(
                h.post(format!("{b}/api/v1/accounts/{}/follow", ids[author])).bearer_auth(&tk[follower]).send().await?,
            )
            .await?;
            Ok(())
        }
    })
    .await;
    anyhow::ensure!(failed == 0, "{failed} follows failed");

    // The image posts: 2 MP photos, each different.
    let t = Instant::now();
    let (hh, b, tk) = (h.clone(), base.clone(), tokens.clone());
    let (_, failed) = drive(2, o.posts, None, move |k| {
        let (h, b, tk) = (hh.clone(), b.clone(), tk.clone());
        async move {
            let photo =
                tokio::task::spawn_blocking(move || crate::media::jpeg(&crate::media::photo(1600, 1200, k as u64)))
                    .await??;
            let token = &tk[k % 10];
            let media = upload(&h, &b, token, &photo).await?;
            let put = h
                .put(format!("{b}/api/v1/media/{media}"))
                .bearer_auth(token)
                .form(&[("description", format!("Benchmark photo number {k}"))]);
            check(put.send().await?).await?;
            let post = h
                .post(format!("{b}/api/v1/statuses"))
                .bearer_auth(token)
                .form(&[("status", format!("A picture, number {k}")), ("media_ids[]", media)]);
            check(post.send().await?).await?;
            Ok(())
        }
    })
    .await;
    anyhow::ensure!(failed == 0, "{failed} image posts failed");
    eprintln!("{} image posts in {:.1}s", o.posts, t.elapsed().as_secs_f64());

    println!("## roost-bench pictures\n");
    println!("- machine: {}", stats::machine());
    println!(
        "- {n} members following 10 who posted {} posts with a 1600 × 1200 photo each; {} s per phase; fsync on\n",
        o.posts, o.seconds
    );

    // Serving previews: the preview links of a follower's home, fetched over and over.
    let home: Vec<serde_json::Value> =
        check(h.get(format!("{base}/api/v1/timelines/home?limit=40")).bearer_auth(&tokens[10]).send().await?)
            .await?
            .json()
            .await?;
    let previews: Arc<Vec<String>> = Arc::new(
        home.iter().filter_map(|s| s["media_attachments"][0]["preview_url"].as_str()).map(str::to_string).collect(),
    );
    anyhow::ensure!(!previews.is_empty(), "the home timeline has no pictures");
    let sample = check(h.get(&previews[0]).send().await?).await?;
    let preview_type =
        sample.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let preview_bytes = sample.bytes().await?.len();
    let served = Arc::new(AtomicUsize::new(0));
    let (hh, p, sv) = (h.clone(), previews.clone(), served.clone());
    let t = Instant::now();
    let (mut lat, failed) =
        drive(o.preview_concurrency, usize::MAX, Some(Instant::now() + Duration::from_secs(o.seconds)), move |k| {
            let (h, p, sv) = (hh.clone(), p.clone(), sv.clone());
            async move {
                let body = check(h.get(&p[k % p.len()]).send().await?).await?.bytes().await?;
                sv.fetch_add(body.len(), Ordering::Relaxed);
                Ok(())
            }
        })
        .await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "Serving previews ({} different ones, {preview_type}, {:.0} KB each):\n",
        previews.len(),
        preview_bytes as f64 / 1000.0
    );
    println!("| clients | requests | failed | requests/s | MB/s | p50 (ms) | p99 (ms) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {failed} | {:.0} | {:.0} | {:.2} | {:.2} |\n",
        o.preview_concurrency,
        lat.len(),
        lat.len() as f64 / secs,
        served.load(Ordering::Relaxed) as f64 / secs / 1e6,
        lat.percentile_ms(50.0),
        lat.percentile_ms(99.0)
    );

    // Home timelines at a steady rate, without and then with uploads being processed.
    let readers: Arc<Vec<String>> = Arc::new(tokens[10..].to_vec());
    let (mut quiet, quiet_failed) = read_homes(&h, &base, &readers, o.read_rate, o.seconds).await;
    let (quiet_max, quiet_max_failed) = read_all_out(&h, &base, &readers, o.read_concurrency, o.seconds).await;
    let photos: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..4u64).map(|s| crate::media::jpeg(&crate::media::photo(uw, uh, 1000 + s))).collect::<anyhow::Result<_>>()?,
    );
    let upload_mb = photos[0].len() as f64 / 1e6;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let uploaded = Arc::new(Mutex::new(Latencies::default()));
    let upload_failed = Arc::new(AtomicUsize::new(0));
    let uploader = {
        let (h, b, tk, photos, stop, uploaded, upload_failed) = (
            h.clone(),
            base.clone(),
            tokens.clone(),
            photos.clone(),
            stop.clone(),
            uploaded.clone(),
            upload_failed.clone(),
        );
        let rate = o.upload_rate;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
            let mut tasks = Vec::new();
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                k += 1;
                let (h, b, photos, uploaded, upload_failed) =
                    (h.clone(), b.clone(), photos.clone(), uploaded.clone(), upload_failed.clone());
                // Uploaders among the members who do not post, so their quotas stay apart.
                let token = tk[rng.gen_range(10..tk.len())].clone();
                tasks.push(tokio::spawn(async move {
                    let t = Instant::now();
                    match upload(&h, &b, &token, &photos[k % photos.len()]).await {
                        Ok(_) => {
                            if let Ok(mut u) = uploaded.lock() {
                                u.record(t.elapsed());
                            }
                        }
                        Err(e) => {
                            if upload_failed.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("upload failed: {e:#}");
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    };
    // Let the uploads reach their steady state before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut busy, busy_failed) = read_homes(&h, &base, &readers, o.read_rate, o.seconds).await;
    let (busy_max, busy_max_failed) = read_all_out(&h, &base, &readers, o.read_concurrency, o.seconds).await;
    stop.store(true, Ordering::Relaxed);
    uploader.await?;
    let mut uploads = std::mem::take(&mut *uploaded.lock().unwrap_or_else(|e| e.into_inner()));
    let (q50, q99, b50, b99) =
        (quiet.percentile_ms(50.0), quiet.percentile_ms(99.0), busy.percentile_ms(50.0), busy.percentile_ms(99.0));
    println!(
        "Home timelines (20 posts, with pictures) at {} reads/s, without and with {} uploads/s of a {uw} × {uh} JPEG ({upload_mb:.1} MB):\n",
        o.read_rate, o.upload_rate
    );
    println!("| phase | reads | failed | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|---:|");
    println!("| no uploads | {} | {quiet_failed} | {q50:.2} | {q99:.2} |", quiet.len());
    println!("| {} uploads/s | {} | {busy_failed} | {b50:.2} | {b99:.2} |", o.upload_rate, busy.len());
    println!("| ratio | | | {:.2} | {:.2} |\n", b50 / q50.max(f64::EPSILON), b99 / q99.max(f64::EPSILON));
    println!(
        "The same reads as fast as {} clients can go (closed loop: the node's capacity left for reads):\n",
        o.read_concurrency
    );
    println!("| phase | reads/s | failed |");
    println!("|---|---:|---:|");
    println!("| no uploads | {quiet_max:.0} | {quiet_max_failed} |");
    println!("| {} uploads/s | {busy_max:.0} | {busy_max_failed} |", o.upload_rate);
    println!("| ratio | {:.2} | |\n", busy_max / quiet_max.max(f64::EPSILON));
    println!(
        "Uploads in those phases: {} processed ({} failed), p50 {:.0} ms, p99 {:.0} ms from request to answer\n",
        uploads.len(),
        upload_failed.load(Ordering::Relaxed),
        uploads.percentile_ms(50.0),
        uploads.percentile_ms(99.0)
    );

    // The web app's home page of a follower: 20 image posts.
    let cookie = crate::web::sign_in(&h, &base, "p10").await?;
    let page =
        check(h.get(format!("{base}/")).header(reqwest::header::COOKIE, &cookie).send().await?).await?.text().await?;
    let mut weight = vec![("HTML".to_string(), page.len())];
    for a in crate::web::assets(&page) {
        let body = check(h.get(format!("{base}{a}")).send().await?).await?.bytes().await?;
        weight.push((a, body.len()));
    }
    let (mut avatars, mut small, mut large) = (std::collections::HashSet::new(), 0usize, 0usize);
    let mut pictures = 0;
    for img in page.split("<img").skip(1) {
        let attr = |name: &str| {
            img.split(&format!(" {name}=\"")).nth(1).and_then(|s| s.split('"').next()).map(|s| s.replace("&amp;", "&"))
        };
        let Some(src) = attr("src") else { continue };
        if img.contains("class=\"avatar\"") {
            avatars.insert(src);
            continue;
        }
        pictures += 1;
        small += fetched(&h, &base, &cookie, &src).await?;
        // The largest candidate of the srcset: what a high-density screen asks for.
        if let Some(big) =
            attr("srcset").and_then(|s| s.split(", ").last().and_then(|c| c.split(' ').next()).map(str::to_string))
        {
            large += fetched(&h, &base, &cookie, &big).await?;
        }
    }
    let mut avatar_bytes = 0;
    for src in &avatars {
        avatar_bytes += fetched(&h, &base, &cookie, src).await?;
    }
    let text: usize = weight.iter().map(|(_, n)| n).sum();
    println!("Home page of a follower in the web app ({pictures} pictures, {} different avatars):\n", avatars.len());
    println!("| part | bytes |");
    println!("|---|---:|");
    for (part, n) in &weight {
        println!("| {part} | {n} |");
    }
    println!("| avatars | {avatar_bytes} |");
    println!("| pictures, as a 1× screen loads them (previews) | {small} |");
    println!("| pictures, as a 2× screen wider than 640 px loads them (originals) | {large} |");
    println!("| **total at 1×** | **{:.0} KB** |", (text + avatar_bytes + small) as f64 / 1000.0);
    let (rss, peak) = stats::rss_mib(server.child.id());
    println!("\n- server memory: RSS {rss} MiB (peak {peak} MiB)");
    Ok(())
}
