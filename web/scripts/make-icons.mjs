// Renders the PNG app icons from assets/icon.svg with headless Chromium (run after editing the SVG).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const svg = fs.readFileSync(path.join(root, 'assets/icon.svg'), 'utf8');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
for (const [name, size, pad] of [['icon-192.png', 192, 0], ['icon-512.png', 512, 0], ['icon-maskable-512.png', 512, 0.12]]) {
  await page.setViewportSize({ width: size, height: size });
  const inner = svg.replace('rx="112"', pad ? 'rx="0"' : 'rx="112"');
  const p = Math.round(size * pad);
  await page.setContent(`<html><body style="margin:0;background:${pad ? '#a3195b' : 'transparent'}"><div style="padding:${p}px;width:${size}px;height:${size}px;box-sizing:border-box">${inner.replace('<svg ', `<svg width="${size - 2 * p}" height="${size - 2 * p}" `)}</div></body></html>`);
  await page.screenshot({ path: path.join(root, 'assets', name), omitBackground: !pad });
  console.log(name);
}
await browser.close();
