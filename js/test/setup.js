// Test setup shared by the jsdom and browser projects.

// jsdom has Blob but no object URLs: give it working stand-ins (Chromium has real ones).
if (typeof URL.createObjectURL !== "function") {
  let n = 0;
  URL.createObjectURL = () => {
    n += 1;
    return `blob:jsdom/${n}`;
  };
  URL.revokeObjectURL = () => {};
}
