// Each figure of a chapter links to its own image file: on a phone the book shrinks a
// figure to the screen, so a tap opens it at full size, to zoom into (the files are
// drawn at about twice the width the page shows them at).
document.addEventListener("DOMContentLoaded", () => {
  for (const image of document.querySelectorAll("div.cell_output img")) {
    if (image.closest("a")) continue;
    const link = document.createElement("a");
    link.href = image.src;
    link.className = "figure-link";
    link.title = "Open the figure at full size";
    image.replaceWith(link);
    link.appendChild(image);
  }
});
