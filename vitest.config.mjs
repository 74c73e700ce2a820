import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";

// Chromium from the system (apt-get install chromium): Playwright's browser downloads are
// not used. CHROMIUM_PATH overrides the path.
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const shared = {
  include: ["js/**/*.test.js"],
  setupFiles: ["js/test/setup.js"],
  restoreMocks: true,
  // style.css?raw must give the file (by default vitest empties CSS in Node).
  css: { include: [/style\.css/] },
};

export default defineConfig({
  test: {
    projects: [
      {
        test: { ...shared, name: "jsdom", environment: "jsdom" },
      },
      {
        test: {
          ...shared,
          name: "browser",
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: {
                executablePath,
                args: [
                  "--headless",
                  "--no-sandbox",
                  "--disable-gpu",
                  // WebGL2 for the map's renderer tests: ANGLE on SwiftShader (software). Chromium 156
                  // headless gives it with the flags above alone; this flag keeps it where a build
                  // only allows SwiftShader WebGL when asked (Chrome >= 137 outside headless mode).
                  "--enable-unsafe-swiftshader",
                  "--disable-background-networking",
                  "--disable-component-update",
                  "--disable-sync",
                  "--no-first-run",
                  "--disable-quic",
                ],
              },
            }),
            instances: [{ browser: "chromium" }],
          },
        },
      },
    ],
  },
});
