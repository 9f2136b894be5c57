// Drag and drop of files onto a chat: the section highlights while files are over it, and a drop hands the files
// to the composer, which uploads them (XEP-0363).
import { useState } from 'preact/hooks';

export function useFileDrop() {
  const [over, setOver] = useState(false);
  const [files, setFiles] = useState<File[] | undefined>();
  const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  return {
    over,
    files,
    handlers: {
      onDragOver: (e: DragEvent) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      },
      onDragLeave: (e: DragEvent) => {
        if (e.currentTarget === e.target) setOver(false);
      },
      onDrop: (e: DragEvent) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        setOver(false);
        const dropped = [...(e.dataTransfer?.files ?? [])];
        // A new array each time, so dropping the same file twice uploads it twice.
        if (dropped.length) setFiles(dropped);
      },
    },
  };
}
