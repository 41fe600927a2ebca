package cas_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/index"
)

// Open a store on a local directory, put a file and read it back, verified.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "casstore-example-")
	defer os.RemoveAll(dir)

	backend, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		log.Fatal(err)
	}
	store := cas.New(backend)

	res, err := store.Put(ctx, strings.NewReader("hello, casstore\n"), cas.PutOptions{ContentType: "text/plain"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Digest, res.New)

	again, _ := store.Put(ctx, strings.NewReader("hello, casstore\n"), cas.PutOptions{})
	fmt.Println("second put stored something:", again.New)

	r, err := store.Open(ctx, res.Digest)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	content, err := io.ReadAll(r) // an error wrapping cas.ErrCorrupt if the bytes were altered
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(content))
	// Output:
	// d052cae7401caffb8a3079740f61d231b55f9d55ef8acb6fdd117c62e4e89f20 true
	// second put stored something: false
	// hello, casstore
}

// Attach files to a transaction and list them: the blob is stored first,
// then the index row is written.
func ExampleStore_Attach() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "casstore-example-")
	defer os.RemoveAll(dir)

	backend, _ := disk.New(filepath.Join(dir, "blobs"))
	ix, err := index.Open(ctx, filepath.Join(dir, "index.db"), backend.Location())
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()
	store := cas.New(backend, cas.WithIndex(ix))

	for _, name := range []string{"reply.txt", "copy-of-reply.txt"} {
		_, _, err := store.Attach(ctx, strings.NewReader("Thanks, fixed."), cas.Attachment{Txn: "ticket-1042", Name: name, ContentType: "text/plain"}, cas.PutOptions{})
		if err != nil {
			log.Fatal(err)
		}
	}
	atts, _ := ix.Attachments(ctx, "ticket-1042")
	for _, a := range atts {
		fmt.Println(a.Name, a.Size, a.Digest.Short())
	}
	// Output:
	// reply.txt 14 6bf433af10fa
	// copy-of-reply.txt 14 6bf433af10fa
}
